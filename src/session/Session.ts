import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { AsyncSubject, BehaviorSubject, type Observable, Subject, Subscription, type Unsubscribable } from "rxjs";
import { encodeEvent, encodeRetry } from "../encode.js";
import { EventFlareError } from "../errors.js";
import { sseHeaders } from "../headers.js";
import { joinHeartbeat, leaveHeartbeat } from "../heartbeat.js";
import { History, type HistoryGapReason } from "../history/History.js";
import { formatEventId, processIds } from "../ids.js";
import { readLastEventId } from "../lastEventId.js";
import { messageToData } from "../message.js";
import { type ResolvedSessionOptions, resolveSessionOptions, type SessionOptions } from "../options.js";
import type { Connection, ConnectionEnd } from "../transport/Connection.js";
import { NodeHttpConnection, type NodeRequest, type NodeResponse } from "../transport/nodeHttp.js";
import { flushQueue } from "./flushQueue.js";
import { sessionHistories } from "./historyStore.js";
import {
  type CloseReason,
  ConnectionState,
  HISTORY_GAP_EVENT,
  type SessionClosedEvent,
  type SessionLifecycleEvent,
} from "./lifecycle.js";
import { type OutboundFrame, SessionWriter } from "./SessionWriter.js";

/** Event names mapped to the type of their data. `Session<{ price: Price }>` only sends `Price` as `price`. */
export type EventMap = Record<string, unknown>;

/** A message for the session's `inbound` subject: the data and, optionally, the event name. */
export type OutgoingEvent<TEvents extends EventMap = EventMap> = {
  [K in keyof TEvents & string]: { readonly data: TEvents[K]; readonly event?: K | undefined };
}[keyof TEvents & string];

/** The EventEmitter events of a session, with their listener arguments. */
export type SessionEmitterEvents = {
  [E in SessionLifecycleEvent as E["type"]]: [event: E];
};

/**
 * One client's event stream.
 *
 * `new Session(req, res, options)` sends the SSE headers and a `retry:` line at once, replays history when the
 * client reconnects with a Last-Event-ID, keeps the connection alive with a shared heartbeat, and closes exactly
 * once, whoever ends it. Every message gets an id and is kept in the session's history.
 *
 * ## Example
 * ```ts
 * http.createServer((req, res) => {
 *   const session = new Session(req, res, { sessionId: "user-42" });
 *   session.sendMessage(JSON.stringify({ stockName: "AAPL", currentStockPrice: "245.65" }));
 *   session.pipeFrom(prices$, "price"); // ends when the client disconnects
 * });
 * ```
 */
// No `implements ConnectionOwner, WriterOwner`: those members are @internal and stripped from the published
// declarations, where the clause would then fail a consumer's library check (TS2420). They are checked
// structurally where the session hands itself to its connection and writer.
export class Session<TEvents extends EventMap = EventMap> extends EventEmitter<SessionEmitterEvents> {
  /**
   * The Last-Event-ID the client sent when it connected (header, `lastEventId` or `evs_last_event_id` query),
   * or undefined for a fresh client.
   */
  readonly lastEventId: string | undefined;
  private readonly sessionId: string;
  private readonly options: ResolvedSessionOptions;
  private readonly connection: Connection;
  private readonly writer: SessionWriter;
  /**
   * The session's history: from the store for an explicit `sessionId` (it can outlive the session), else created
   * on first use and dropped with the session (no client can come back with a random id).
   */
  private history: History | undefined;
  /** True when the application chose the id: only then can a later connection resume this history. */
  private readonly explicitId: boolean;
  /**
   * Piped sources and channel memberships, unsubscribed on close. A plain array made on first use (one membership
   * costs one slot); each entry removes itself through {@link release} when it ends first.
   */
  private held: Unsubscribable[] | undefined;
  private state: ConnectionState = ConnectionState.CONNECTED;
  private closedEvent: SessionClosedEvent | undefined;
  // Subjects are created on first use: an idle session that nobody observes costs no subjects.
  private lifecycleSubject: Subject<SessionLifecycleEvent> | undefined;
  private stateSubject: BehaviorSubject<ConnectionState> | undefined;
  private closedSubject: AsyncSubject<SessionClosedEvent> | undefined;
  private inboundSubject: Subject<OutgoingEvent<TEvents>> | undefined;

  /**
   * Opens the stream on `res`.
   *
   * @param req The request (node:http, http2 compatibility API, Express `req`, Koa `ctx.req`).
   * @param res Its response (Express `res`, Koa `ctx.res` with `ctx.respond = false`).
   * @param options See {@link SessionOptions}; every option has a default.
   * @throws EventFlareError `INVALID_OPTION` for a bad option, `INVALID_ARGUMENT` when `req`/`res` are not a request and response.
   */
  constructor(req: NodeRequest, res: NodeResponse, options?: SessionOptions) {
    super();
    this.options = resolveSessionOptions(options);
    this.connection = new NodeHttpConnection(req, res);
    this.explicitId = this.options.sessionId !== undefined;
    this.sessionId = this.options.sessionId ?? flatUUID();
    this.lastEventId = readLastEventId(req);
    const resumed = this.explicitId && sessionHistories.has(this.sessionId);
    if (this.explicitId) this.history = sessionHistories.acquire(this.sessionId, this.options.historySize);
    this.writer = new SessionWriter(
      this.connection,
      flushQueue(this.options.flushInterval, this.options.scheduler),
      this.options.maxBufferedBytes,
      this,
    );
    this.connection.attach(this);
    this.connection.open(sseHeaders(this.connection.isHttp2), encodeRetry(this.options.retryInterval));
    this.replayOwnHistory(resumed);
    joinHeartbeat(this.writer, this.options.heartbeatInterval, this.options.scheduler);
    // A client that left before the handler ran has already fired 'close'; end the session rather than leak it.
    if (this.connection.closed) process.nextTick(() => this.finish("client-disconnect"));
  }

  /**
   * Sends one event to this client and records it in the session history.
   *
   * @param msg The data. A string is sent as it is; any other value is sent as JSON.
   * @param eventName The SSE event name. Defaults to none (clients see a `message` event).
   * @returns The event id assigned to the message.
   * @throws EventFlareError `SESSION_CLOSED` after the session closed, `INVALID_FIELD` for an event name with
   * CR, LF or NUL, `INVALID_MESSAGE` for a value that has no JSON form. Nothing is written when it throws.
   */
  sendMessage<K extends keyof TEvents & string>(msg: TEvents[K], eventName?: K): string {
    if (this.state !== ConnectionState.CONNECTED) {
      throw new EventFlareError(
        "SESSION_CLOSED",
        `Session ${this.sessionId} is closed (${this.closedEvent?.reason}); it can send nothing more. Listen for "session-closed" to stop sending.`,
      );
    }
    const data = messageToData(msg);
    const id = processIds.next();
    const idText = formatEventId(id);
    const frame = Buffer.from(encodeEvent({ data, event: eventName, id: idText }));
    this.writer.write(this.ownHistory().append(id, frame));
    this.dispatch({ type: "message-sent", sessionId: this.sessionId, id: idText, event: eventName, data });
    return idText;
  }

  /** `"CONNECTED"` until the session closes, then `"DISCONNECTED"`. */
  getConnectionState(): ConnectionState {
    return this.state;
  }

  /** The session id: the `sessionId` option, or a random UUID. */
  getSessionId(): string {
    return this.sessionId;
  }

  /**
   * Ends the stream from the server: queued events are written, the response ends, and the session closes with
   * reason `server-close`. Calling it again, or after the client left, does nothing.
   */
  close(): void {
    this.finish("server-close");
  }

  /**
   * Sends every value of `source$` to this client (as {@link sendMessage} would), until the client disconnects
   * or the session closes; then the subscription is unsubscribed.
   *
   * Error rule: when `source$` errors, or emits a value that cannot be sent, a `source-error` lifecycle event is
   * emitted and the session closes with reason `source-error`; the client reconnects and can resume from history.
   * When `source$` completes, the session stays open.
   *
   * @param eventName The SSE event name for every value. Defaults to none.
   * @returns The subscription; unsubscribe it to stop piping without closing the session.
   */
  pipeFrom<K extends keyof TEvents & string>(source$: Observable<TEvents[K]>, eventName?: K): Subscription {
    if (this.state !== ConnectionState.CONNECTED) return Subscription.EMPTY;
    // Held before subscribing, so a source that errors synchronously is still torn down with the session.
    const subscription = new Subscription();
    this.hold(subscription);
    subscription.add(() => this.release(subscription));
    subscription.add(
      source$.subscribe({
        next: (value) => this.sendFromSource(value, eventName),
        error: (error: unknown) => this.failSource(error),
      }),
    );
    return subscription;
  }

  /**
   * A subject application code can `next()` events into: `session.inbound.next({ data, event })`.
   * It completes when the session closes; values sent after that are ignored. Created on first use.
   * `inbound.error(e)` follows the same rule as an error in {@link pipeFrom}.
   */
  get inbound(): Subject<OutgoingEvent<TEvents>> {
    if (this.inboundSubject === undefined) {
      const subject = new Subject<OutgoingEvent<TEvents>>();
      this.inboundSubject = subject;
      if (this.state === ConnectionState.CONNECTED) {
        this.hold(
          subject.subscribe({
            next: (message) => this.sendFromSource(message.data, message.event),
            error: (error: unknown) => this.failSource(error),
          }),
        );
        // The subject lives as long as the session, so this subscription is only released by the close.
      } else {
        subject.complete();
      }
    }
    return this.inboundSubject;
  }

  /** The connection state: the current value at once, then each change; completes when the session closes. */
  get state$(): Observable<ConnectionState> {
    if (this.stateSubject === undefined) {
      this.stateSubject = new BehaviorSubject<ConnectionState>(this.state);
      if (this.state !== ConnectionState.CONNECTED) this.stateSubject.complete();
    }
    return this.stateSubject.asObservable();
  }

  /** Emits the `session-closed` event once, when the session closes (at once if it already has), then completes. */
  get closed$(): Observable<SessionClosedEvent> {
    if (this.closedSubject === undefined) {
      this.closedSubject = new AsyncSubject<SessionClosedEvent>();
      if (this.closedEvent !== undefined) {
        this.closedSubject.next(this.closedEvent);
        this.closedSubject.complete();
      }
    }
    return this.closedSubject.asObservable();
  }

  /**
   * Every lifecycle event of this session from now on (`message-sent`, `history-gap`, `source-error`,
   * `session-closed`); completes after `session-closed`. The EventEmitter events are the same objects.
   */
  get lifecycle$(): Observable<SessionLifecycleEvent> {
    if (this.lifecycleSubject === undefined) {
      this.lifecycleSubject = new Subject<SessionLifecycleEvent>();
      if (this.closedEvent !== undefined) this.lifecycleSubject.complete();
    }
    return this.lifecycleSubject.asObservable();
  }

  /** @internal The `session-closed` event once the session has closed, else undefined. */
  get closeEvent(): SessionClosedEvent | undefined {
    return this.closedEvent;
  }

  /** @internal Queues a frame encoded by a channel. Returns false when the session is closed. */
  deliver(frame: OutboundFrame): boolean {
    if (this.state !== ConnectionState.CONNECTED) return false;
    this.writer.write(frame);
    return true;
  }

  /** @internal Queues a frame for this session only and keeps it in the session history (targeted broadcasts). */
  deliverAndRecord(frame: OutboundFrame & { id: NonNullable<OutboundFrame["id"]> }): boolean {
    if (this.state !== ConnectionState.CONNECTED) return false;
    this.ownHistory().append(frame.id, frame.frame);
    this.writer.write(frame);
    return true;
  }

  /** @internal Queues replayed frames; they are merged with live frames of the same flush in id order. */
  deliverReplay(frames: readonly OutboundFrame[]): void {
    if (this.state === ConnectionState.CONNECTED) this.writer.writeReplay(frames);
  }

  /** @internal Tells the client and the application that `source` cannot replay everything after its Last-Event-ID. */
  signalGap(source: string, reason: HistoryGapReason): void {
    if (this.state !== ConnectionState.CONNECTED || this.lastEventId === undefined) return;
    const data = JSON.stringify({ source, reason });
    this.writer.write({ id: undefined, frame: Buffer.from(encodeEvent({ event: HISTORY_GAP_EVENT, data })) });
    const event = {
      type: "history-gap",
      sessionId: this.sessionId,
      source,
      reason,
      lastEventId: this.lastEventId,
    } as const;
    // Deferred: a gap found in the constructor must reach listeners attached right after it.
    process.nextTick(() => this.dispatch(event));
  }

  /**
   * @internal Ties `subscription` to the session: it is unsubscribed when the session closes
   * (at once when it already has). Returns false when the session is closed.
   */
  hold(subscription: Unsubscribable): boolean {
    if (this.state !== ConnectionState.CONNECTED) {
      subscription.unsubscribe();
      return false;
    }
    if (this.held === undefined) this.held = [subscription];
    else this.held.push(subscription);
    return true;
  }

  /** @internal Forgets a held subscription that ended before the session did. */
  release(subscription: Unsubscribable): void {
    const held = this.held;
    if (held === undefined) return;
    const index = held.indexOf(subscription);
    if (index !== -1) held.splice(index, 1);
  }

  /** @internal The connection ended (client gone or write failed). */
  connectionEnded(why: ConnectionEnd, error?: unknown): void {
    this.finish(why, error);
  }

  /** @internal More than `maxBufferedBytes` waited for this client. */
  writerOverflowed(): void {
    this.finish("slow-consumer");
  }

  private ownHistory(): History {
    this.history ??= new History(this.options.historySize);
    return this.history;
  }

  private replayOwnHistory(resumed: boolean): void {
    // A random id has no past; only an id the application chose can have history to resume (or to have lost).
    if (this.history === undefined) return;
    if (this.lastEventId === undefined) {
      if (this.options.replayLast > 0) this.writer.writeReplay(this.history.last(this.options.replayLast));
      return;
    }
    const bounds = resumed ? processIds : { floor: processIds.last, last: processIds.last };
    const result = this.history.after(this.lastEventId, bounds);
    if (result.ok) this.writer.writeReplay(result.entries);
    else this.signalGap("session", result.reason);
  }

  private sendFromSource(value: unknown, eventName: string | undefined): void {
    if (this.state !== ConnectionState.CONNECTED) return;
    try {
      this.sendMessage(value as TEvents[keyof TEvents & string], eventName as keyof TEvents & string);
    } catch (error) {
      this.failSource(error);
    }
  }

  private failSource(error: unknown): void {
    if (this.state !== ConnectionState.CONNECTED) return;
    if (this.listenerCount("source-error") === 0 && this.lifecycleSubject?.observed !== true) {
      // Nobody listens: make it visible rather than swallow it.
      process.emitWarning(`event-flare: a source piped into session ${this.sessionId} failed: ${String(error)}`, {
        code: "EVENT_FLARE_SOURCE_ERROR",
      });
    }
    this.dispatch({ type: "source-error", sessionId: this.sessionId, error });
    this.finish("source-error", error);
  }

  /** The one disposal path: every way a session ends comes here, and only the first call does anything. */
  private finish(reason: CloseReason, error?: unknown): void {
    if (this.state !== ConnectionState.CONNECTED) return;
    this.state = ConnectionState.DISCONNECTED;
    this.connection.detach();
    leaveHeartbeat(this.writer, this.options.heartbeatInterval, this.options.scheduler);
    const graceful = reason === "server-close" || reason === "source-error";
    this.writer.close(graceful);
    if (graceful) this.connection.end();
    else if (reason !== "client-disconnect") this.connection.destroy();
    if (this.explicitId) sessionHistories.release(this.sessionId, this.options.historyTtl);
    const event: SessionClosedEvent =
      error === undefined
        ? { type: "session-closed", sessionId: this.sessionId, reason }
        : { type: "session-closed", sessionId: this.sessionId, reason, error };
    this.closedEvent = event;
    // Heartbeat, piped sources and channel memberships end before anyone hears of the close.
    const held = this.held;
    this.held = undefined;
    if (held !== undefined) for (const subscription of held) subscription.unsubscribe();
    this.stateSubject?.next(this.state);
    this.stateSubject?.complete();
    this.inboundSubject?.complete();
    this.dispatch(event);
    this.closedSubject?.next(event);
    this.closedSubject?.complete();
    this.lifecycleSubject?.complete();
  }

  /** The one place lifecycle events are published: to `lifecycle$`, then to EventEmitter listeners of the same name. */
  private dispatch(event: SessionLifecycleEvent): void {
    this.lifecycleSubject?.next(event);
    (this.emit as (name: string, event: SessionLifecycleEvent) => boolean)(event.type, event);
  }
}

/**
 * A random UUID as one flat string. `randomUUID()` builds its result by concatenation, and V8 keeps such a string
 * as a tree of about twenty pieces (some 600 bytes) for as long as the session holds it; copying it through a
 * Buffer stores the 36 characters once.
 */
function flatUUID(): string {
  return Buffer.from(randomUUID(), "latin1").toString("latin1");
}
