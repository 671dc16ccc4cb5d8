import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { Backplane } from "../backplane/Backplane.js";
import type { BackplaneOption, SessionOptions } from "../options.js";
import { type EventMap, openSession, type Session } from "../session/Session.js";
import { Http2StreamConnection } from "../transport/http2Stream.js";

/**
 * Opens an event stream on a stream of node:http2's core API: `server.on("stream", (stream, headers) => …)`.
 * The session is the same `Session` as on node:http; the compatibility API (`(req, res)`) keeps using
 * `new Session(req, res)`.
 *
 * A client that resets the stream, even while the flow-control window is full, closes the session with reason
 * `client-disconnect` and frees what was queued; the HTTP/2 connection and its other streams stay up.
 *
 * ## Example
 * ```ts
 * server.on("stream", (stream, headers) => {
 *   if (headers[":path"] !== "/events") return;
 *   channel.register(fromHttp2Stream(stream, headers));
 * });
 * ```
 *
 * @param stream The server stream, before anything was written to it.
 * @param headers Its request headers (`:path` and `last-event-id` are read for replay).
 * @param options See `SessionOptions`; every option has a default.
 * @throws EventFlareError `INVALID_ARGUMENT` when `stream` or `headers` are not those of a stream event,
 * `INVALID_OPTION` for a bad option.
 */
export function fromHttp2Stream<
  TEvents extends EventMap = EventMap,
  TBackplane extends Backplane | undefined = undefined,
>(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  options?: SessionOptions & BackplaneOption<TBackplane>,
): Session<TEvents, TBackplane> {
  return openSession<TEvents, TBackplane>(new Http2StreamConnection(stream, headers), options);
}
