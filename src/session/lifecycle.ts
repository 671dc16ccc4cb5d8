import type { HistoryGapReason } from "../history/History.js";

/**
 * A session's connection state, as the seed API reports it.
 *
 * @example
 * ```ts
 * if (session.getConnectionState() === ConnectionState.CONNECTED) session.sendMessage("still here");
 * ```
 */
export const ConnectionState = {
  CONNECTED: "CONNECTED",
  DISCONNECTED: "DISCONNECTED",
} as const;
/** `"CONNECTED"` or `"DISCONNECTED"`. */
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

/**
 * Why a session closed.
 * - `client-disconnect`: the client went away.
 * - `server-close`: `session.close()` was called.
 * - `slow-consumer`: more than `maxBufferedBytes` waited for the client; the socket was dropped.
 * - `write-error`: the socket reported an error.
 * - `source-error`: a piped observable errored (see {@link SourceErrorEvent}).
 * - `replaced`: another session with the same `sessionId` registered in a channel this one was in; the client was
 *   sent a final `session-replaced` event first (see {@link SESSION_REPLACED_EVENT}).
 *
 * @example
 * ```ts
 * session.on("session-closed", ({ reason }) => {
 *   if (reason === "slow-consumer") console.warn("dropped a client that stopped reading");
 * });
 * ```
 */
export type CloseReason =
  | "client-disconnect"
  | "server-close"
  | "slow-consumer"
  | "write-error"
  | "source-error"
  | "replaced";

/**
 * Emitted as `message-sent` after `sendMessage` (or a piped value) has been queued for the client.
 *
 * @example
 * ```ts
 * session.on("message-sent", ({ id, event }: MessageSentEvent) => console.log(id, event));
 * ```
 */
export interface MessageSentEvent {
  readonly type: "message-sent";
  readonly sessionId: string;
  /** The event id assigned to the message. */
  readonly id: string;
  /** The event name, when one was given. */
  readonly event: string | undefined;
  /** The data as sent on the wire. */
  readonly data: string;
}

/**
 * Emitted as `session-closed`, exactly once per session.
 *
 * @example
 * ```ts
 * session.closed$.subscribe(({ reason, error }: SessionClosedEvent) => console.log(reason, error));
 * ```
 */
export interface SessionClosedEvent {
  readonly type: "session-closed";
  readonly sessionId: string;
  readonly reason: CloseReason;
  /** The error behind `write-error` or `source-error`. */
  readonly error?: unknown;
}

/**
 * Emitted as `history-gap` when a reconnecting client's Last-Event-ID cannot be fully replayed by one source.
 * The client is also sent a `history-gap` SSE event (see {@link HISTORY_GAP_EVENT}) so it knows to resync.
 *
 * @example
 * ```ts
 * session.on("history-gap", ({ source, reason, lastEventId }: HistoryGapEvent) => console.warn(source, reason, lastEventId));
 * ```
 */
export interface HistoryGapEvent {
  readonly type: "history-gap";
  readonly sessionId: string;
  /** `session` for the session's own history, or `channel:<channelId>`. */
  readonly source: string;
  readonly reason: HistoryGapReason;
  /** The Last-Event-ID the client sent (cut to 1 KiB). */
  readonly lastEventId: string;
}

/**
 * Emitted as `source-error` when an observable piped into the session errors, or emits a value that cannot
 * be sent. The rule: the session then closes with reason `source-error`, so the client reconnects and the
 * application can subscribe afresh; nothing is swallowed.
 *
 * @example
 * ```ts
 * session.on("source-error", ({ error }: SourceErrorEvent) => console.error(error));
 * ```
 */
export interface SourceErrorEvent {
  readonly type: "source-error";
  readonly sessionId: string;
  readonly error: unknown;
}

/**
 * Every lifecycle event a session emits, on `lifecycle$` and, by its `type`, on the EventEmitter.
 *
 * @example
 * ```ts
 * session.lifecycle$.subscribe((event: SessionLifecycleEvent) => console.log(event.type));
 * ```
 */
export type SessionLifecycleEvent = MessageSentEvent | SessionClosedEvent | HistoryGapEvent | SourceErrorEvent;

/**
 * The EventEmitter events of a session, with their listener arguments.
 *
 * @example
 * ```ts
 * type Closed = SessionEmitterEvents["session-closed"]; // [event: SessionClosedEvent]
 * ```
 */
export type SessionEmitterEvents = {
  [E in SessionLifecycleEvent as E["type"]]: [event: E];
};

/**
 * The SSE event name of the gap signal sent to the client. Its data is JSON `{"source":…,"reason":…}`; it has no id.
 *
 * @example
 * ```ts
 * source.addEventListener(HISTORY_GAP_EVENT, () => reloadSnapshot()); // in the browser
 * ```
 */
export const HISTORY_GAP_EVENT = "history-gap";

/**
 * The SSE event name of the last event a replaced session's client receives, before the stream ends. Its data is
 * JSON `{"reason":"replaced"}`; it has no id. A client that gets it should close its EventSource rather than
 * reconnect (with the same `sessionId` it would replace the newer connection in turn).
 *
 * @example
 * ```ts
 * source.addEventListener(SESSION_REPLACED_EVENT, () => source.close()); // in the browser: do not reconnect
 * ```
 */
export const SESSION_REPLACED_EVENT = "session-replaced";
