import type { EventEmitter } from "node:events";
import { config } from "rxjs";

/**
 * Reports an error thrown by application code that event-flare called (a lifecycle listener), without letting it
 * break what event-flare was doing: a flush over many sessions, a broadcast loop, a session's close.
 *
 * The rule is RxJS's own for errors thrown in subscribers: the error goes to `config.onUnhandledError` when the
 * application set one, else it is rethrown on a later tick, where it surfaces as an uncaught exception (as any
 * throwing EventEmitter listener would in Node). It is never swallowed.
 */
export function reportListenerError(error: unknown): void {
  const handler = config.onUnhandledError;
  if (handler !== null) {
    handler(error);
    return;
  }
  setTimeout(() => {
    throw error;
  });
}

/**
 * Emits `event` to each listener of `type` in turn, as `emitter.emit` would, except that a listener that throws does
 * not stop the other listeners or the caller: its error goes to {@link reportListenerError}.
 */
export function emitSafely(emitter: EventEmitter, type: string, event: unknown): void {
  if (emitter.listenerCount(type) === 0) return;
  // rawListeners is a copy, and calling a `once` wrapper removes it, exactly as emit does.
  for (const listener of emitter.rawListeners(type) as ((event: unknown) => void)[]) {
    try {
      listener.call(emitter, event);
    } catch (error) {
      reportListenerError(error);
    }
  }
}
