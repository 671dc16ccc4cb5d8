import type { EventSourceLike } from "../../src/client/index.js";

/**
 * An EventSource whose events a marble test scripts: it stands in for the browser's, so fromEventSource's mapping,
 * filtering, notices and teardown can be checked frame by frame. Real EventSources (the `eventsource` package,
 * Chromium's own, event-source-polyfill) are used by the socket and browser tests.
 */
export class ScriptedEventSource implements EventSourceLike {
  static readonly instances: ScriptedEventSource[] = [];
  static get last(): ScriptedEventSource {
    const last = ScriptedEventSource.instances.at(-1);
    if (last === undefined) throw new Error("no ScriptedEventSource was created");
    return last;
  }

  readyState = 0;
  closed = false;
  private readonly listeners = new Map<string, Set<(event: unknown) => void>>();

  constructor(
    readonly url: string,
    readonly init?: { withCredentials?: boolean },
  ) {
    ScriptedEventSource.instances.push(this);
  }

  addEventListener(type: string, listener: (event: unknown) => void): void {
    const set = this.listeners.get(type) ?? new Set();
    this.listeners.set(type, set);
    set.add(listener);
  }

  removeEventListener(type: string, listener: (event: unknown) => void): void {
    this.listeners.get(type)?.delete(listener);
  }

  close(): void {
    this.readyState = 2;
    this.closed = true;
  }

  /** How many listeners are still attached. */
  listenerCount(): number {
    return [...this.listeners.values()].reduce((sum, set) => sum + set.size, 0);
  }

  dispatch(type: string, event: object = {}): void {
    for (const listener of [...(this.listeners.get(type) ?? [])]) listener({ type, ...event });
  }

  // What real EventSources do, step by step.
  open(): void {
    this.readyState = 1;
    this.dispatch("open");
  }
  message(event: string, data: string, lastEventId: string): void {
    this.dispatch(event, { data, lastEventId });
  }
  drop(): void {
    this.readyState = 0;
    this.dispatch("error");
  }
  refuse(details: object = {}): void {
    this.readyState = 2;
    this.dispatch("error", details);
  }
}
