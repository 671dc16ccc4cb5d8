import { Observable, type Subscriber } from "rxjs";
import { EventFlareError } from "../errors.js";
import { HISTORY_GAP_EVENT, SESSION_REPLACED_EVENT } from "../session/lifecycle.js";
import { probeRefusal, refusalOf, unreachable } from "./failure.js";
import { resolveClientOptions } from "./options.js";
import type {
  ClientEventMap,
  ClientGapReason,
  ClientNotification,
  EventSourceLike,
  FromEventSourceOptions,
} from "./types.js";

// The rule of this file: one subscription is one EventSource, and unsubscribing closes it. Reconnects stay the
// EventSource's own (with Last-Event-ID): a drop after the stream opened is a `connection` notice, never an error.
// The observable errors only when the EventSource gives up for good (a refusal from the server, a URL it cannot
// reach at the first attempt, an invalid URL), and then nothing reconnects: the EventSource is closed first.

/** With a typed map, the names to listen to must be given: an EventSource cannot deliver names it was not told. */
type RequiredEvents<TEvents extends ClientEventMap> = ClientEventMap extends TEvents
  ? unknown
  : { readonly events: readonly (keyof TEvents & string)[] };

/** The options argument: optional for the untyped map, required (with `events`) for a typed one. */
type OptionsArgument<TEvents extends ClientEventMap> = ClientEventMap extends TEvents
  ? [options?: FromEventSourceOptions<TEvents>]
  : [options: FromEventSourceOptions<TEvents> & RequiredEvents<TEvents>];

/** What the client reads from a message event, in every implementation. */
interface ServerEvent {
  readonly data: unknown;
  readonly lastEventId?: string | undefined;
}

const CONNECTING = 0;
const CLOSED = 2;

/**
 * An observable of a server-sent event stream: typed messages `{ type: "message", event, data, id }`, plus the
 * notices an application acts on (`history-gap`, `invalid-data`, `connection`). Each subscription opens one
 * EventSource; unsubscribing closes it. Share one connection between subscribers with `share()`.
 *
 * - `data` is parsed as JSON unless `raw` says otherwise; data that is not JSON gives an `invalid-data` notice
 *   naming the event id, and the stream goes on.
 * - Only the events named in `events` are received (default: events sent without a name); others are ignored.
 * - A dropped connection is reconnected by the EventSource itself, with Last-Event-ID: a `connection` notice
 *   (`reconnecting`, then `open`), and the stream goes on. A `history-gap` notice says the server could not replay
 *   everything since.
 * - The observable errors with an `EventFlareError`, and nothing reconnects, when the stream cannot be had:
 *   `CLIENT_INVALID_URL`, `CLIENT_UNREACHABLE` (at the first attempt), `CLIENT_HTTP_STATUS`, `CLIENT_CONTENT_TYPE`,
 *   `CLIENT_STOPPED` (a 204, or this connection was replaced by a newer one with its session id) or
 *   `CLIENT_REFUSED` (a browser EventSource that refused, when asking again could not say why).
 *
 * @param url The stream's URL. Relative URLs resolve against the page (in browsers).
 * @param options See {@link FromEventSourceOptions}; `events` is required with a typed map.
 * @throws EventFlareError `INVALID_OPTION` for a bad option, or when there is no EventSource to use.
 *
 * @example
 * ```ts
 * import { fromEventSource } from "event-flare/client";
 * import { filter, share } from "rxjs";
 *
 * type Ticker = { price: { symbol: string; value: number }; halt: { symbol: string } };
 * const ticker$ = fromEventSource<Ticker>("/prices", { events: ["price", "halt"] }).pipe(share());
 * ticker$.pipe(filter((note) => note.type === "message")).subscribe((message) => {
 *   if (message.event === "price") console.log(message.data.symbol, message.data.value, message.id);
 * });
 * ticker$.pipe(filter((note) => note.type === "history-gap")).subscribe(() => location.reload());
 * ```
 */
export function fromEventSource<TEvents extends ClientEventMap = ClientEventMap>(
  url: string | URL,
  options: FromEventSourceOptions<TEvents> & { readonly raw: true } & RequiredEvents<TEvents>,
): Observable<ClientNotification<{ [K in keyof TEvents]: string }>>;
export function fromEventSource<TEvents extends ClientEventMap = ClientEventMap>(
  url: string | URL,
  ...options: OptionsArgument<TEvents>
): Observable<ClientNotification<TEvents>>;
export function fromEventSource(
  url: string | URL,
  options?: FromEventSourceOptions,
): Observable<ClientNotification<ClientEventMap>> {
  const resolved = resolveClientOptions(options);
  const href = String(url);
  return new Observable<ClientNotification>((subscriber) => {
    let source: EventSourceLike;
    try {
      source = new resolved.EventSource(href, { withCredentials: resolved.withCredentials });
    } catch (cause) {
      subscriber.error(
        new EventFlareError("CLIENT_INVALID_URL", `fromEventSource: the EventSource rejected the URL ${href}.`, {
          field: "url",
          cause,
        }),
      );
      return;
    }
    const connection = new Connection(source, href, resolved.withCredentials, subscriber);
    // Teardown before any listener: whatever happens next, unsubscribing closes the EventSource.
    subscriber.add(() => connection.close());
    connection.listen("open", () => connection.opened());
    connection.listen("error", (event) => connection.failed(event));
    for (const name of resolved.events) {
      const raw = resolved.isRaw(name);
      connection.listen(name, (event: ServerEvent) => connection.message(name, event, raw));
    }
    connection.listen(HISTORY_GAP_EVENT, (event: ServerEvent) => connection.gap(event));
    connection.listen(SESSION_REPLACED_EVENT, () =>
      connection.fail(
        new EventFlareError(
          "CLIENT_STOPPED",
          `${href}: a newer connection with the same session id replaced this one; the server asks it to stop. Not reconnecting.`,
        ),
      ),
    );
  });
}

/** One subscription's EventSource, its listeners and its state. */
class Connection {
  private readonly listeners: [string, (event: unknown) => void][] = [];
  private everOpened = false;
  private probe: AbortController | undefined;

  constructor(
    private readonly source: EventSourceLike,
    private readonly url: string,
    private readonly withCredentials: boolean,
    private readonly subscriber: Subscriber<ClientNotification>,
  ) {}

  listen<E>(type: string, listener: (event: E) => void): void {
    this.source.addEventListener(type, listener);
    this.listeners.push([type, listener as (event: unknown) => void]);
  }

  /** Removes every listener and closes the EventSource: no reconnect can follow. Idempotent. */
  close(): void {
    for (const [type, listener] of this.listeners.splice(0)) this.source.removeEventListener(type, listener);
    this.source.close();
    this.probe?.abort();
  }

  fail(error: EventFlareError): void {
    this.close();
    this.subscriber.error(error);
  }

  opened(): void {
    this.everOpened = true;
    this.subscriber.next({ type: "connection", state: "open" });
  }

  failed(event: unknown): void {
    const state = this.source.readyState;
    if (state === CONNECTING) {
      // A drop after the stream opened: the EventSource reconnects by itself. Before it ever opened: unreachable.
      if (this.everOpened) this.subscriber.next({ type: "connection", state: "reconnecting" });
      else this.fail(unreachable(this.url, event));
      return;
    }
    // An `error` event while open is an application event named "error" (or a polyfill's notice): not a failure.
    if (state !== CLOSED) return;
    const known = refusalOf(event, this.url);
    if (known !== undefined) {
      this.fail(known);
      return;
    }
    this.close();
    const probe = new AbortController();
    this.probe = probe;
    void probeRefusal(this.url, this.withCredentials, probe.signal).then((error) => {
      if (!probe.signal.aborted) this.subscriber.error(error);
    });
  }

  message(event: string, message: ServerEvent, raw: boolean): void {
    const id = message.lastEventId ?? "";
    const text = String(message.data);
    if (raw) {
      this.subscriber.next({ type: "message", event, data: text, id });
      return;
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (cause) {
      const error = new EventFlareError(
        "CLIENT_INVALID_DATA",
        `Event ${id === "" ? "without an id" : id} ("${event}") has data that is not JSON; receive it with raw: ["${event}"] if it is text.`,
        { cause },
      );
      this.subscriber.next({ type: "invalid-data", event, id, data: text, error });
      return;
    }
    this.subscriber.next({ type: "message", event, data, id });
  }

  gap(message: ServerEvent): void {
    let signal: { source?: unknown; reason?: unknown } = {};
    try {
      signal = JSON.parse(String(message.data)) ?? {};
    } catch {
      // The server always sends JSON here; a signal without details is still a gap.
    }
    this.subscriber.next({
      type: "history-gap",
      source: typeof signal.source === "string" ? signal.source : "unknown",
      reason: (typeof signal.reason === "string" ? signal.reason : "unknown") as ClientGapReason,
      lastEventId: message.lastEventId ?? "",
    });
  }
}
