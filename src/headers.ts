const BASE = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-cache, no-transform",
  // Tells nginx not to buffer the stream.
  "X-Accel-Buffering": "no",
} as const;

const HTTP1: Readonly<Record<string, string>> = Object.freeze({ ...BASE, Connection: "keep-alive" });
const HTTP2: Readonly<Record<string, string>> = Object.freeze({ ...BASE });

/**
 * The response headers of an event stream. `Connection: keep-alive` is sent on HTTP/1 only:
 * HTTP/2 forbids connection-specific headers, and clients reject a stream that carries one.
 * The objects are shared and frozen.
 */
export function sseHeaders(isHttp2: boolean): Readonly<Record<string, string>> {
  return isHttp2 ? HTTP2 : HTTP1;
}
