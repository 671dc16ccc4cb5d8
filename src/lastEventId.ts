/**
 * The parts of a request that carry a Last-Event-ID. Node's http and http2 requests both fit.
 *
 * @example
 * ```ts
 * const request: RequestLike = { headers: { "last-event-id": "1764131040000-0" }, url: "/events" };
 * readLastEventId(request); // "1764131040000-0"
 * ```
 */
export interface RequestLike {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly url?: string | undefined;
  /** Express keeps the unmodified URL here when routers rewrite `url`. */
  readonly originalUrl?: string | undefined;
}

/** Longer values are hostile or broken; they are reported as malformed without being parsed. */
const MAX_LAST_EVENT_ID_LENGTH = 1024;
const QUERY_KEYS = ["lastEventId", "evs_last_event_id"] as const;

/**
 * Reads the Last-Event-ID a reconnecting client sent: the `Last-Event-ID` header (the standard `EventSource`),
 * else the `lastEventId` or `evs_last_event_id` query parameter (event-source-polyfill, which cannot set headers
 * on every transport). Returns undefined when there is none, or when it is empty.
 *
 * A value longer than 1 KiB is cut to 1 KiB (it can only be malformed), so it costs a bounded lookup later.
 *
 * @example
 * ```ts
 * const resuming = readLastEventId(req) !== undefined; // a reconnect, not a first visit
 * ```
 */
export function readLastEventId(req: RequestLike): string | undefined {
  const header = req.headers["last-event-id"];
  const fromHeader = Array.isArray(header) ? header[0] : header;
  if (fromHeader !== undefined && fromHeader !== "") return bound(fromHeader);
  const url = req.originalUrl ?? req.url;
  if (url === undefined) return undefined;
  const q = url.indexOf("?");
  if (q === -1) return undefined;
  const params = new URLSearchParams(url.slice(q + 1, q + 1 + 16 * 1024));
  for (const key of QUERY_KEYS) {
    const value = params.get(key);
    if (value !== null && value !== "") return bound(value);
  }
  return undefined;
}

function bound(value: string): string {
  return value.length > MAX_LAST_EVENT_ID_LENGTH ? value.slice(0, MAX_LAST_EVENT_ID_LENGTH) : value;
}
