import type { EventEmitter } from "node:events";
import { AsyncSubject, BehaviorSubject, type Observable, Subject } from "rxjs";
import { emitSafely } from "../reportError.js";
import { ConnectionState, type SessionClosedEvent, type SessionLifecycleEvent } from "./lifecycle.js";

/**
 * Where a session's lifecycle is published: `lifecycle$`, then the EventEmitter event of the same name, from one
 * place. Also the lifecycle as observables (`state$`, `closed$`, `lifecycle$`), and events held for the next tick.
 *
 * A session creates it on first use, so an idle session that nobody observes costs no subjects. The order is a
 * contract: `session-closed` is the last event, and deferred events still pending at the close go out before it.
 * A listener that throws stops neither the other listeners nor the caller (see `reportListenerError`).
 */
export class SessionSignals {
  private lifecycle: Subject<SessionLifecycleEvent> | undefined;
  private state: BehaviorSubject<ConnectionState> | undefined;
  private closed: AsyncSubject<SessionClosedEvent> | undefined;
  private pending: SessionLifecycleEvent[] | undefined;

  /**
   * @param emitter The session, whose EventEmitter listeners hear every event.
   * @param closedEvent The session's `session-closed` event when it has already closed.
   */
  constructor(
    private readonly emitter: EventEmitter,
    private closedEvent: SessionClosedEvent | undefined,
  ) {}

  /** The connection state: the current value at once, then each change; completes when the session closes. */
  get state$(): Observable<ConnectionState> {
    if (this.state === undefined) {
      const ended = this.closedEvent !== undefined;
      this.state = new BehaviorSubject<ConnectionState>(
        ended ? ConnectionState.DISCONNECTED : ConnectionState.CONNECTED,
      );
      if (ended) this.state.complete();
    }
    return this.state.asObservable();
  }

  /** The `session-closed` event once, when the session closes (at once if it already has), then completion. */
  get closed$(): Observable<SessionClosedEvent> {
    if (this.closed === undefined) {
      this.closed = new AsyncSubject<SessionClosedEvent>();
      if (this.closedEvent !== undefined) {
        this.closed.next(this.closedEvent);
        this.closed.complete();
      }
    }
    return this.closed.asObservable();
  }

  /** Every lifecycle event from now on; completes after `session-closed`. */
  get lifecycle$(): Observable<SessionLifecycleEvent> {
    if (this.lifecycle === undefined) {
      this.lifecycle = new Subject<SessionLifecycleEvent>();
      if (this.closedEvent !== undefined) this.lifecycle.complete();
    }
    return this.lifecycle.asObservable();
  }

  /** True when someone subscribes to `lifecycle$`. */
  get observed(): boolean {
    return this.lifecycle?.observed === true;
  }

  /** Publishes one event now. */
  dispatch(event: SessionLifecycleEvent): void {
    this.lifecycle?.next(event);
    emitSafely(this.emitter, event.type, event);
  }

  /** Publishes one event on the next tick, so listeners attached right after the current call still hear it. */
  defer(event: SessionLifecycleEvent): void {
    if (this.pending === undefined) {
      this.pending = [event];
      process.nextTick(dispatchPending, this);
    } else {
      this.pending.push(event);
    }
  }

  /** @internal Publishes the deferred events, in order. */
  dispatchPending(): void {
    const events = this.pending;
    this.pending = undefined;
    if (events !== undefined) for (const event of events) this.dispatch(event);
  }

  /**
   * The session closed: `state$` emits DISCONNECTED and completes, deferred events go out, then `session-closed`
   * (on `lifecycle$` and the emitter), then `closed$` emits it and everything completes.
   */
  close(event: SessionClosedEvent): void {
    this.closedEvent = event;
    this.state?.next(ConnectionState.DISCONNECTED);
    this.state?.complete();
    this.dispatchPending();
    this.dispatch(event);
    this.closed?.next(event);
    this.closed?.complete();
    this.lifecycle?.complete();
  }
}

/** The `process.nextTick` callback, shared by every session: no closure per event. */
function dispatchPending(signals: SessionSignals): void {
  signals.dispatchPending();
}
