import { type Observable, Subject, Subscription } from "rxjs";
import type { Backplane, SendResult } from "../backplane/Backplane.js";
import { describeError, escapeForLog } from "../describe.js";
import { readLastEventId } from "../lastEventId.js";
import { type BackplaneOption, resolveSessionOptions, type SessionOptions } from "../options.js";
import type { Connection } from "../transport/Connection.js";
import { NodeHttpConnection, type NodeRequest, type NodeResponse } from "../transport/nodeHttp.js";
import { ConnectionState, type SessionClosedEvent, type SessionLifecycleEvent } from "./lifecycle.js";
import { SessionMember } from "./SessionMember.js";

export type { SessionEmitterEvents } from "./lifecycle.js";

/** The connection {@link openSession} hands to the constructor; set only for the duration of that call. */
let handedOver: Connection | undefined;

/**
 * Event names mapped to the type of their data. `Session<{ price: Price }>` only sends `Price` as `price`.
 *
 * @example
 * ```ts
 * type Ticker = { price: { symbol: string; value: number }; halt: { symbol: string } };
 * const session = new Session<Ticker>(req, res);
 * session.sendMessage({ symbol: "AAPL", value: 245.65 }, "price");
 * ```
 */
export type EventMap = Record<string, unknown>;

/**
 * A message for the session's `inbound` subject: the data and, optionally, the event name.
 *
 * @example
 * ```ts
 * const next: OutgoingEvent<{ watch: { symbol: string } }> = { data: { symbol: "AAPL" }, event: "watch" };
 * ```
 */
export type OutgoingEvent<TEvents extends EventMap = EventMap> = {
  [K in keyof TEvents & string]: { readonly data: TEvents[K]; readonly event?: K | undefined };
}[keyof TEvents & string];

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
 *   const session = new Session(req, res, { sessionId: `${user.id}:${tabId}` });
 *   session.sendMessage(JSON.stringify({ stockName: "AAPL", currentStockPrice: "245.65" }));
 *   session.pipeFrom(prices$, "price"); // ends when the client disconnects
 * });
 * ```
 */
export class Session<
  TEvents extends EventMap = EventMap,
  TBackplane extends Backplane | undefined = undefined,
> extends SessionMember {
  private inboundSubject: Subject<OutgoingEvent<TEvents>> | undefined;

  /**
   * Opens the stream on `res`. A session never closes inside its constructor: when the client has already gone,
   * or the request is a `HEAD` (which gets the headers and no body), it closes on the next tick.
   *
   * @param req The request (node:http, http2 compatibility API, Express `req`, Koa `ctx.req`).
   * @param res Its response (Express `res`, Koa `ctx.res` with `ctx.respond = false`).
   * @param options See {@link SessionOptions}; every option has a default.
   * @throws EventFlareError `INVALID_OPTION` for a bad option, `INVALID_ARGUMENT` when `req`/`res` are not a request and response.
   */
  constructor(req: NodeRequest, res: NodeResponse, options?: SessionOptions & BackplaneOption<TBackplane>) {
    const connection = handedOver ?? new NodeHttpConnection(req, res);
    handedOver = undefined;
    super(connection, readLastEventId(connection.request), resolveSessionOptions(options));
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
  override sendMessage<K extends keyof TEvents & string>(msg: TEvents[K], eventName?: K): SendResult<TBackplane> {
    return super.sendMessage(msg, eventName) as SendResult<TBackplane>;
  }

  /**
   * Sends every value of `source$` to this client (as {@link sendMessage} would), until the client disconnects
   * or the session closes; then the subscription is unsubscribed.
   *
   * Error rule: when `source$` errors, or emits a value that cannot be sent, a `source-error` lifecycle event is
   * emitted and the session closes with reason `source-error`; the client reconnects and can resume from history.
   * When `source$` completes, the session stays open and the subscription is released.
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
        complete: () => subscription.unsubscribe(),
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
    return this.signals().state$;
  }

  /** Emits the `session-closed` event once, when the session closes (at once if it already has), then completes. */
  get closed$(): Observable<SessionClosedEvent> {
    return this.signals().closed$;
  }

  /**
   * Every lifecycle event of this session from now on (`message-sent`, `history-gap`, `source-error`,
   * `session-closed`); completes after `session-closed`, and nothing follows it. The EventEmitter events are the
   * same objects. A listener that throws never breaks the session or others; see the API reference.
   */
  get lifecycle$(): Observable<SessionLifecycleEvent> {
    return this.signals().lifecycle$;
  }

  /** @internal Completes `inbound` as the session closes. */
  protected override closing(): void {
    this.inboundSubject?.complete();
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
    if (this.listenerCount("source-error") === 0 && !this.lifecycleObserved) {
      // Nobody listens: make it visible rather than swallow it.
      process.emitWarning(
        `event-flare: a source piped into session ${escapeForLog(this.sessionId)} failed: ${describeError(error)}`,
        { code: "EVENT_FLARE_SOURCE_ERROR" },
      );
    }
    this.dispatch({ type: "source-error", sessionId: this.sessionId, error });
    this.finish("source-error", error);
  }
}

/**
 * @internal The one door for transports other than a node:http `(req, res)` pair (the Fetch API, the HTTP/2 stream
 * API): a real {@link Session} on `connection`. The constructor keeps the seed's `(req, res, options)` shape and never
 * guesses the transport from its arguments; the adapters' entry points (`fromRequest`, `fromHttp2Stream`) come here.
 */
export function openSession<TEvents extends EventMap, TBackplane extends Backplane | undefined>(
  connection: Connection,
  options: (SessionOptions & BackplaneOption<TBackplane>) | undefined,
): Session<TEvents, TBackplane> {
  handedOver = connection;
  try {
    return new Session<TEvents, TBackplane>(undefined as never, undefined as never, options);
  } finally {
    handedOver = undefined;
  }
}
