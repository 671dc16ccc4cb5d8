/**
 * The response headers of an event stream. `Connection: keep-alive` is sent on HTTP/1 only:
 * HTTP/2 forbids connection-specific headers, and clients reject a stream that carries one.
 */
export function sseHeaders(isHttp2: boolean): Record<string, string> {
  const headers: Record<string, string> = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    // Tells nginx not to buffer the stream.
    "X-Accel-Buffering": "no",
  };
  if (!isHttp2) headers.Connection = "keep-alive";
  return headers;
}
