import { EventEmitter } from "node:events";
import type { Unsubscribable } from "rxjs";
import { escapeForLog } from "../describe.js";
import { assertFieldValue, encodeRetry } from "../encode.js";
import { EventFlareError } from "../errors.js";
import { sseHeaders } from "../headers.js";
import { joinHeartbeat, leaveHeartbeat } from "../heartbeat.js";
import type { HistoryGapReason } from "../history/History.js";
import { messageToData } from "../message.js";
import { counters } from "../metrics/counters.js";
import type { ResolvedSessionOptions } from "../options.js";
import { emitSafely } from "../reportError.js";
import type { Connection, ConnectionEnd } from "../transport/Connection.js";
import { BackplaneSession } from "./BackplaneSession.js";
import { SESSION_BRAND, SESSION_PROTOCOL } from "./brand.js";
import { flushQueueKey, flushQueues } from "./flushQueue.js";
import { LocalSessionHistory } from "./LocalSessionHistory.js";
import {
  type CloseReason,
  ConnectionState,
  type SessionClosedEvent,
  type SessionEmitterEvents,
  type SessionLifecycleEvent,
} from "./lifecycle.js";
import type { OwnHistory } from "./OwnHistory.js";
import { openSessions } from "./openSessions.js";
import type { OutboundFrame } from "./outboundFrame.js";
import { randomSessionId } from "./randomSessionId.js";
import type { ReplayTicket } from "./replayTicket.js";
import { SessionSignals } from "./SessionSignals.js";
import { SessionWriter } from "./SessionWriter.js";

/**
 * The mechanics of one client's event stream, under {@link Session}'s public API: the connection, the writer, the
 * session's history and replay, what the session holds (piped sources, channel memberships), the lifecycle, and
 * the one disposal path. It knows nothing of the transport beyond the {@link Connection} it is given, and nothing
 * of event types: it sends what it is given.
 *
 * What channels, histories and backplanes call on a session lives in {@link SessionMember}, which extends this class.
 */
// No `implements ConnectionOwner, WriterOwner`: those members are internal, so stripInternal removes them from the
// published declarations, where the clause would then fail a consumer's library check (TS2420). They are checked
// structurally where the session hands itself to its connection and writer. (The tag that marks a member internal
// must never appear in this comment: stripInternal would drop the whole class.)
export abstract class SessionCore extends EventEmitter<SessionEmitterEvents> {
  /**
   * The Last-Event-ID the client sent when it connected (header, `lastEventId` or `evs_last_event_id` query),
   * or undefined for a fresh client.
   */
  readonly lastEventId: string | undefined;
  /** @internal */
  protected readonly sessionId: string;
  /** @internal */
  protected readonly options: ResolvedSessionOptions;
  /** @internal */
  protected readonly connection: Connection;
  /** @internal */
  protected readonly writer: SessionWriter;
  /**
   * Piped sources and channel memberships, unsubscribed on close: the first one alone (the common case, one
   * membership, costs no array), an array from the second on. Each entry removes itself through {@link release}
   * when it ends first.
   */
  private held: Unsubscribable | Unsubscribable[] | undefined;
  /** @internal */
  protected state: ConnectionState = ConnectionState.CONNECTED;
  /** @internal */
  protected closedEvent: SessionClosedEvent | undefined;
  /** Where lifecycle events are published once anything needs more than the emitter; created on first use. */
  private signalsOnDemand: SessionSignals | undefined;
  /**
   * The session's own history: in this process, or on a backplane. A session with a random id in one process has
   * no past to resume, so its history is made on its first own event (an idle member of a channel holds none).
   */
  private own: OwnHistory | undefined;
  /** Once a graceful close began: resolves when the response is done (see {@link closeGracefully}). */
  private ending: Promise<void> | undefined;
  /** Set by {@link closeGracefully}: the connection is closed after the response, not left for reuse. */
  private shuttingDown = false;

  /**
   * Opens the stream on `connection`. A session never closes inside its constructor: when the client has already
   * gone, or the request is a `HEAD` (which gets the headers and no body), it closes on the next tick, once the
   * caller has attached its listeners.
   *
   * @param connection The transport, before anything was written to it.
   * @param lastEventId The Last-Event-ID the client sent, if any.
   * @param options Every option resolved.
   */
  protected constructor(connection: Connection, lastEventId: string | undefined, options: ResolvedSessionOptions) {
    super();
    this.options = options;
    this.connection = connection;
    // Only an id the application chose can be resumed by a later connection.
    const explicit = options.sessionId !== undefined;
    this.sessionId = options.sessionId ?? randomSessionId();
    this.lastEventId = lastEventId;
    const { backplane } = options;
    if (backplane !== undefined) this.own = new BackplaneSession(this, backplane, this.sessionId, explicit, options);
    else if (explicit) this.own = new LocalSessionHistory(this, this.sessionId, true, options);
    const { flushInterval, flushSliceSize, scheduler } = options;
    const queue = flushQueues.acquire(flushQueueKey(flushInterval, flushSliceSize), scheduler);
    this.writer = new SessionWriter(connection, queue, options, this);
    const retry = encodeRetry(options.retryInterval);
    const streaming = connection.open(sseHeaders(connection.isHttp2), retry);
    if (streaming) counters.bytesWritten += retry.length;
    // A client already gone (or a write that failed in `open`) is reported by the connection on the next tick.
    if (streaming) connection.attach(this);
    else process.nextTick(finishLater, this, "server-close");
    openSessions.add(this);
    counters.sessionsOpened += 1;
    this.own?.open(lastEventId, options.replayLast);
    joinHeartbeat(this.writer, options.heartbeatInterval, scheduler);
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
  sendMessage(msg: unknown, eventName?: string): string | Promise<string> {
    if (this.state !== ConnectionState.CONNECTED) {
      throw new EventFlareError(
        "SESSION_CLOSED",
        `Session ${escapeForLog(this.sessionId)} is closed (${this.closedEvent?.reason}); it can send nothing more. Listen for "session-closed" to stop sending.`,
      );
    }
    const data = messageToData(msg);
    if (eventName !== undefined) assertFieldValue("event", eventName);
    const sent = this.ownHistory().send(data, eventName);
    const announce = (id: string) => {
      // Nothing follows session-closed: an id that comes back after the close is returned, not announced.
      if (this.state === ConnectionState.CONNECTED) {
        this.dispatch({ type: "message-sent", sessionId: this.sessionId, id, event: eventName, data });
      }
      return id;
    };
    // On a backplane the id comes back with the write; the event reaches this client when the node reads it back.
    return typeof sent === "string" ? announce(sent) : sent.then(announce);
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
   * reason `server-close`. A client that does not read what is queued within `drainTimeout` has its socket dropped.
   * Calling it again, or after the client left, does nothing.
   */
  close(): void {
    this.finish("server-close");
  }

  /** @internal Queues a frame (see {@link SessionMember}). */
  abstract deliver(frame: OutboundFrame): boolean;
  /** @internal Queues replayed frames (see {@link SessionMember}). */
  abstract deliverReplay(frames: readonly OutboundFrame[]): void;
  /** @internal Signals a replay gap (see {@link SessionMember}). */
  abstract signalGap(source: string, reason: HistoryGapReason): void;
  /** @internal Signals a loss on the backplane (see {@link SessionMember}). */
  abstract signalLoss(source: string): void;
  /** @internal Announces a replay still being fetched (see {@link SessionMember}). */
  abstract replayLater(): ReplayTicket;

  /**
   * @internal Ties `subscription` to the session: it is unsubscribed when the session closes
   * (at once when it already has). Returns false when the session is closed.
   */
  hold(subscription: Unsubscribable): boolean {
    if (this.state !== ConnectionState.CONNECTED) {
      subscription.unsubscribe();
      return false;
    }
    const held = this.held;
    if (held === undefined) this.held = subscription;
    else if (Array.isArray(held)) held.push(subscription);
    else this.held = [held, subscription];
    return true;
  }

  /** @internal Forgets a held subscription that ended before the session did. */
  release(subscription: Unsubscribable): void {
    const held = this.held;
    if (held === subscription) {
      this.held = undefined;
    } else if (Array.isArray(held)) {
      const index = held.indexOf(subscription);
      if (index !== -1) held.splice(index, 1);
    }
  }

  /** @internal The connection ended (client gone or write failed). */
  connectionEnded(why: ConnectionEnd, error?: unknown): void {
    this.finish(why, error);
  }

  /**
   * @internal The client fell too far behind (see `maxBufferedBytes`). The writer has already stopped; the session
   * closes at the end of the current turn, so a broadcast or flush in progress is never interrupted by listeners.
   */
  writerOverflowed(): void {
    process.nextTick(finishLater, this, "slow-consumer");
  }

  /**
   * @internal Ends the stream as `close()` does, after an optional `retry:` hint (the client waits that long before it
   * reconnects, for instance to the next instance of a deploy). Resolves when the response is done: its queued
   * bytes reached the client, or it was dropped after `drainTimeout`.
   */
  closeGracefully(retry: number | undefined): Promise<void> {
    if (this.state === ConnectionState.CONNECTED && retry !== undefined) {
      this.writer.write({ id: undefined, frame: Buffer.from(encodeRetry(retry)) });
    }
    this.shuttingDown = true;
    this.finish("server-close");
    return this.ending ?? Promise.resolve();
  }

  /** @internal Runs the one disposal path; see {@link finish}. */
  finishNow(reason: CloseReason): void {
    this.finish(reason);
  }

  /** The one disposal path: every way a session ends comes here, and only the first call does anything. */
  /** @internal */
  protected finish(reason: CloseReason, error?: unknown): void {
    if (this.state !== ConnectionState.CONNECTED) return;
    this.state = ConnectionState.DISCONNECTED;
    this.connection.detach();
    leaveHeartbeat(this.writer, this.options.heartbeatInterval, this.options.scheduler);
    const graceful = reason === "server-close" || reason === "source-error" || reason === "replaced";
    this.writer.close(graceful);
    flushQueues.release(flushQueueKey(this.options.flushInterval, this.options.flushSliceSize), this.options.scheduler);
    if (graceful) {
      this.ending = this.connection.end(this.options.drainTimeout, this.options.scheduler, this.shuttingDown);
    } else if (reason !== "client-disconnect") this.connection.destroy();
    openSessions.delete(this);
    counters.sessionsClosed[reason] += 1;
    this.own?.close();
    const event: SessionClosedEvent =
      error === undefined
        ? { type: "session-closed", sessionId: this.sessionId, reason }
        : { type: "session-closed", sessionId: this.sessionId, reason, error };
    this.closedEvent = event;
    // Heartbeat, piped sources and channel memberships end before anyone hears of the close.
    const held = this.held;
    this.held = undefined;
    if (Array.isArray(held)) for (const subscription of held) subscription.unsubscribe();
    else held?.unsubscribe();
    this.closing();
    if (this.signalsOnDemand !== undefined) this.signalsOnDemand.close(event);
    else emitSafely(this, event.type, event);
  }

  /** @internal Called by the disposal path after what the session held has ended, before `session-closed`. */
  protected closing(): void {}

  /** @internal True when someone subscribes to `lifecycle$`. */
  protected get lifecycleObserved(): boolean {
    return this.signalsOnDemand?.observed === true;
  }

  /** @internal The session's own history, made on first use when the session has a random id in one process. */
  protected ownHistory(): OwnHistory {
    this.own ??= new LocalSessionHistory(this, this.sessionId, false, this.options);
    return this.own;
  }

  /** @internal The lifecycle publisher, created on first use. */
  protected signals(): SessionSignals {
    this.signalsOnDemand ??= new SessionSignals(this, this.closedEvent);
    return this.signalsOnDemand;
  }

  /** The one place lifecycle events are published (see {@link SessionSignals}). */
  /** @internal */
  protected dispatch(event: SessionLifecycleEvent): void {
    if (this.signalsOnDemand !== undefined) this.signalsOnDemand.dispatch(event);
    else emitSafely(this, event.type, event);
  }
}

// Channels recognise sessions by this brand, across copies of the library (see brand.ts).
Object.defineProperty(SessionCore.prototype, SESSION_BRAND, { value: SESSION_PROTOCOL });

/** `process.nextTick` callbacks, shared by every session: no closure per session. */
function finishLater(session: Pick<SessionCore, "finishNow">, reason: CloseReason): void {
  session.finishNow(reason);
}
