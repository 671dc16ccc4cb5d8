import type { EventFlareError } from "../errors.js";

// The client's public types. This folder runs in browsers: nothing here may name a Node type or import a Node module
// (test/client.isolation.test.ts fails if one sneaks in), so the two types shared with the server side are restated
// here and a type test proves they equal the server's (`EventMap`, `HistoryGapReason`).

/**
 * Event names mapped to the type of their data: the same map types the server (`Session<Events>`,
 * `BroadcastStream<Events>`) and the client (`fromEventSource<Events>`).
 *
 * @example
 * ```ts
 * type Ticker = { price: { symbol: string; value: number }; halt: { symbol: string } };
 * ```
 */
export type ClientEventMap = Record<string, unknown>;

/**
 * Why the server could not replay everything after the client's Last-Event-ID: `malformed`, `unknown`, `too-old`
 * or `lost` (see the replay guide).
 *
 * @example
 * ```ts
 * const resync = (reason: ClientGapReason) => reason !== "malformed";
 * ```
 */
export type ClientGapReason = "malformed" | "unknown" | "too-old" | "lost";

/**
 * One event from the server: its name, its data (parsed as JSON unless `raw`), and its id.
 * With a typed map, checking `event` narrows `data`.
 *
 * @example
 * ```ts
 * if (note.type === "message" && note.event === "price") console.log(note.data.value, note.id);
 * ```
 */
export type ClientMessage<TEvents extends ClientEventMap = ClientEventMap> = {
  [K in keyof TEvents & string]: {
    readonly type: "message";
    /** The SSE event name; `"message"` for events sent without a name. */
    readonly event: K;
    /** The data, parsed as JSON (or the text as sent, with `raw`). */
    readonly data: TEvents[K];
    /** The event id (the EventSource's `lastEventId` when this event arrived). */
    readonly id: string;
  };
}[keyof TEvents & string];

/**
 * The server could not replay everything after the client's Last-Event-ID. Reload the state (a snapshot) and
 * carry on; the stream goes on. Never delivered as a data message.
 *
 * @example
 * ```ts
 * if (note.type === "history-gap") reloadSnapshot(note.reason);
 * ```
 */
export interface ClientHistoryGap {
  readonly type: "history-gap";
  /** `session`, or `channel:<channelId>`: which history could not cover the gap. */
  readonly source: string;
  readonly reason: ClientGapReason;
  /** The Last-Event-ID the client held when the gap was announced. */
  readonly lastEventId: string;
}

/**
 * An event whose data is not JSON while JSON parsing is on. The stream goes on; `error` is an `EventFlareError`
 * with code `CLIENT_INVALID_DATA`.
 *
 * @example
 * ```ts
 * if (note.type === "invalid-data") console.warn(`event ${note.id} (${note.event}) is not JSON`, note.data);
 * ```
 */
export interface ClientInvalidData {
  readonly type: "invalid-data";
  readonly event: string;
  /** The id of the event that could not be parsed. */
  readonly id: string;
  /** The data as received. */
  readonly data: string;
  readonly error: EventFlareError;
}

/**
 * The connection changed state: `open` each time the stream opens (first connect and every reconnect), and
 * `reconnecting` when the connection dropped and the EventSource is reconnecting by itself, with Last-Event-ID.
 *
 * @example
 * ```ts
 * if (note.type === "connection") indicator.textContent = note.state;
 * ```
 */
export interface ClientConnection {
  readonly type: "connection";
  readonly state: "open" | "reconnecting";
}

/**
 * Everything `fromEventSource` emits: messages, and the notices an application acts on. Switch on `type`.
 *
 * @example
 * ```ts
 * const describe = (note: ClientNotification) => (note.type === "message" ? note.id : note.type);
 * ```
 */
export type ClientNotification<TEvents extends ClientEventMap = ClientEventMap> =
  | ClientMessage<TEvents>
  | ClientHistoryGap
  | ClientInvalidData
  | ClientConnection;

/**
 * The part of an `EventSource` the client uses. The browser's own, the `eventsource` package and
 * event-source-polyfill all fit.
 *
 * @example
 * ```ts
 * const close = (source: EventSourceLike) => source.close();
 * ```
 */
export interface EventSourceLike {
  /** 0 connecting, 1 open, 2 closed. */
  readonly readyState: number;
  /** Listens to one event type (`open`, `error`, or an event name). */
  // biome-ignore lint/suspicious/noExplicitAny: each implementation types its own event objects.
  addEventListener(type: string, listener: (event: any) => void): void;
  /** Removes a listener added with `addEventListener`. */
  // biome-ignore lint/suspicious/noExplicitAny: each implementation types its own event objects.
  removeEventListener(type: string, listener: (event: any) => void): void;
  /** Closes the stream for good: no reconnect follows. */
  close(): void;
}

/**
 * A constructor of {@link EventSourceLike}: `new EventSource(url, { withCredentials })`.
 *
 * @example
 * ```ts
 * import { EventSource } from "eventsource"; // in Node
 * const Impl: EventSourceConstructor = EventSource;
 * ```
 */
export type EventSourceConstructor = new (url: string, init?: { withCredentials?: boolean }) => EventSourceLike;

/**
 * The keys of a map whose data is a string: the only ones that may be received `raw` by name.
 *
 * @example
 * ```ts
 * type Text = TextEvents<{ note: string; price: number }>; // "note"
 * ```
 */
export type TextEvents<TEvents extends ClientEventMap> = {
  [K in keyof TEvents & string]: TEvents[K] extends string ? K : never;
}[keyof TEvents & string];

/**
 * Options of `fromEventSource`. Every option has a default.
 *
 * @example
 * ```ts
 * const options: FromEventSourceOptions<{ price: number; note: string }> = { events: ["price", "note"], raw: ["note"] };
 * ```
 */
export interface FromEventSourceOptions<TEvents extends ClientEventMap = ClientEventMap> {
  /**
   * The event names to receive; events with other names are ignored (no listener, so the EventSource drops them).
   * `"message"` stands for events sent without a name. Required with a typed map, since an EventSource delivers
   * named events only to listeners of that name. Defaults to `["message"]`.
   */
  readonly events?: readonly (keyof TEvents & string)[] | undefined;
  /**
   * Data is parsed as JSON unless this says otherwise: `true` keeps every event's data as the text sent, a list
   * keeps it for those events (for events whose data is a string, which the server sends as it is).
   * Defaults to `false`.
   */
  readonly raw?: boolean | readonly TextEvents<TEvents>[] | undefined;
  /** Sends cookies on a cross-origin stream (`EventSource`'s `withCredentials`). Defaults to `false`. */
  readonly withCredentials?: boolean | undefined;
  /**
   * The `EventSource` implementation: the `eventsource` package in Node, event-source-polyfill, or any
   * {@link EventSourceConstructor}. Defaults to `globalThis.EventSource` (the browser's own).
   */
  readonly EventSource?: EventSourceConstructor | undefined;
}
