import { EventFlareError } from "../errors.js";

// Why an EventSource gave up for good, as an EventFlareError. The rule: an EventSource closes itself (readyState 2)
// only when the server's answer tells it to stop (a status other than 200, a 204, a Content-Type other than
// text/event-stream). The `eventsource` package says which in `code` and `message`, event-source-polyfill in
// `status` and `headers`; the browser's own says nothing, so the client asks once more with fetch to name it.

/** What an error event may carry, across the three EventSource implementations. */
interface ErrorDetails {
  /** The HTTP status: `code` in the `eventsource` package, `status` in event-source-polyfill. */
  status: number | undefined;
  contentType: string | undefined;
  message: string | undefined;
}

function detailsOf(event: unknown): ErrorDetails {
  const e = (event ?? {}) as { code?: unknown; status?: unknown; message?: unknown; headers?: unknown };
  const status = typeof e.code === "number" ? e.code : typeof e.status === "number" ? e.status : undefined;
  const headers = e.headers as { get?: (name: string) => string | null } | undefined;
  const contentType = typeof headers?.get === "function" ? (headers.get("Content-Type") ?? undefined) : undefined;
  return { status, contentType, message: typeof e.message === "string" ? e.message : undefined };
}

/** The error for a stream the server refused, or undefined when the event does not say why. */
export function refusalOf(event: unknown, url: string): EventFlareError | undefined {
  const { status, contentType, message } = detailsOf(event);
  if (status === 204) {
    return new EventFlareError(
      "CLIENT_STOPPED",
      `${url} answered 204 No Content: the server asks this client to stop. Not reconnecting.`,
      { cause: event },
    );
  }
  if (status !== undefined && status !== 0 && status !== 200) {
    return new EventFlareError(
      "CLIENT_HTTP_STATUS",
      `${url} answered HTTP ${status}, not 200: check the URL and the credentials. Not reconnecting.`,
      { cause: event },
    );
  }
  const streamType = contentType !== undefined && /^text\/event-stream\b/i.test(contentType);
  if ((status === 200 && !streamType) || (message !== undefined && /content.?type/i.test(message))) {
    return new EventFlareError(
      "CLIENT_CONTENT_TYPE",
      `${url} answered with Content-Type ${contentType ?? "other than text/event-stream"}: it is not an event stream. Not reconnecting.`,
      { cause: event },
    );
  }
  return undefined;
}

/** The error for a stream that could not be reached before it ever opened. */
export function unreachable(url: string, event: unknown): EventFlareError {
  const { message } = detailsOf(event);
  return new EventFlareError(
    "CLIENT_UNREACHABLE",
    `${url} could not be reached${message === undefined ? "" : ` (${message})`}. Not retrying: pipe retry() to try again.`,
    { cause: event },
  );
}

/**
 * Names the refusal of a browser EventSource, which reports none: one GET of the same URL (same credentials mode),
 * read up to its headers and cancelled. When that is impossible or tells nothing, the error is `CLIENT_REFUSED`.
 */
export async function probeRefusal(
  url: string,
  withCredentials: boolean,
  signal: AbortSignal,
): Promise<EventFlareError> {
  const refused = (why: string, cause?: unknown) =>
    new EventFlareError(
      "CLIENT_REFUSED",
      `${url} refused the event stream (${why}). Not reconnecting.`,
      cause === undefined ? undefined : { cause },
    );
  if (typeof fetch !== "function") return refused("the EventSource does not say why");
  try {
    const response = await fetch(url, {
      headers: { Accept: "text/event-stream" },
      credentials: withCredentials ? "include" : "same-origin",
      signal,
    });
    response.body?.cancel().catch(() => {});
    return (
      refusalOf({ status: response.status, headers: response.headers }, url) ??
      refused(`a second request was accepted with ${response.headers.get("Content-Type")}`)
    );
  } catch (cause) {
    return refused("the EventSource does not say why, and asking again failed", cause);
  }
}
