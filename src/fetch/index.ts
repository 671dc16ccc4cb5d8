import type { Backplane } from "../backplane/Backplane.js";
import { EventFlareError } from "../errors.js";
import type { BackplaneOption, SessionOptions } from "../options.js";
import { type EventMap, openSession, type Session } from "../session/Session.js";
import { FetchConnection } from "../transport/fetch.js";

/**
 * What {@link fromRequest} returns: the session, and the `Response` to return from the handler.
 *
 * @example
 * ```ts
 * const { session, response }: EventStreamExchange<{ price: number }> = fromRequest<{ price: number }>(request);
 * session.sendMessage(245.65, "price");
 * return response;
 * ```
 */
export interface EventStreamExchange<
  TEvents extends EventMap = EventMap,
  TBackplane extends Backplane | undefined = undefined,
> {
  /** The client's session: the same `Session` as on node:http, with every option and guarantee. */
  readonly session: Session<TEvents, TBackplane>;
  /** Status 200, the SSE headers, and a `ReadableStream` body of the event stream (no body for `HEAD`). */
  readonly response: Response;
}

/**
 * Opens an event stream for a Fetch API `Request` (Hono, Next.js route handlers, Bun, Deno, any `fetch` server):
 * return `response` from the handler and use `session` as on node:http.
 *
 * Replay reads the `Last-Event-ID` header or the `lastEventId` / `evs_last_event_id` query parameters. The body
 * follows the stream's `desiredSize` and `pull`, so `maxBufferedBytes` judges what the client fails to drain. The
 * request's `AbortSignal`, or the runtime cancelling the body, closes the session with reason `client-disconnect`.
 * The body has one reader: `tee()` throws `INVALID_ARGUMENT`.
 *
 * ## Example
 * ```ts
 * export async function GET(request: Request) {
 *   const { session, response } = fromRequest(request);
 *   channel.register(session);
 *   return response;
 * }
 * ```
 *
 * @param request The incoming request: `GET` (or `HEAD`, which gets the headers and no body).
 * @param options See `SessionOptions`; every option has a default.
 * @throws EventFlareError `INVALID_ARGUMENT` when `request` is not a `Request` or its method is not GET or HEAD
 * (answer other methods with 405 before calling this), `INVALID_OPTION` for a bad option. Nothing is opened then.
 */
export function fromRequest<TEvents extends EventMap = EventMap, TBackplane extends Backplane | undefined = undefined>(
  request: Request,
  options?: SessionOptions & BackplaneOption<TBackplane>,
): EventStreamExchange<TEvents, TBackplane> {
  if (
    typeof request !== "object" ||
    request === null ||
    typeof request.headers?.get !== "function" ||
    typeof request.url !== "string"
  ) {
    throw new EventFlareError("INVALID_ARGUMENT", "fromRequest needs the Fetch API Request of the handler.", {
      field: "request",
    });
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    throw new EventFlareError(
      "INVALID_ARGUMENT",
      `An event stream answers GET (and HEAD), not ${String(request.method).slice(0, 16)}: route only GET here, ` +
        "or answer other methods with 405 before calling fromRequest.",
      { field: "request" },
    );
  }
  const connection = new FetchConnection(request);
  const session = openSession<TEvents, TBackplane>(connection, options);
  return { session, response: connection.response() };
}
