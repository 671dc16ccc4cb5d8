/**
 * Every {@link EventFlareErrorCode}, as a runtime list (for exhaustive checks and documentation tests).
 *
 * @example
 * ```ts
 * EVENT_FLARE_ERROR_CODES.includes("SESSION_CLOSED"); // true
 * ```
 */
export const EVENT_FLARE_ERROR_CODES = [
  "INVALID_FIELD",
  "INVALID_OPTION",
  "INVALID_MESSAGE",
  "INVALID_ARGUMENT",
  "SESSION_CLOSED",
  "ALREADY_REGISTERED",
  "NOT_REGISTERED",
  "PREDICATE_FAILED",
  "CHANNEL_CLOSED",
  "BACKPLANE_UNAVAILABLE",
  "BACKPLANE_FAILED",
  // event-flare/client
  "CLIENT_INVALID_URL",
  "CLIENT_UNREACHABLE",
  "CLIENT_HTTP_STATUS",
  "CLIENT_CONTENT_TYPE",
  "CLIENT_STOPPED",
  "CLIENT_REFUSED",
  "CLIENT_INVALID_DATA",
] as const;

/**
 * Every code an {@link EventFlareError} can carry.
 *
 * - `INVALID_FIELD`: an `event` or `id` field contains CR, LF or NUL, or `retry` is not a non-negative integer.
 * - `INVALID_OPTION`: an option has the wrong type or is out of range; the message names the option and the range.
 * - `INVALID_MESSAGE`: a message cannot be turned into event data (for example `undefined`, a BigInt or a cycle).
 * - `INVALID_ARGUMENT`: a function was called with an argument of the wrong kind (for example no response object).
 * - `SESSION_CLOSED`: the session has ended; it can send nothing more.
 * - `ALREADY_REGISTERED`: the session is already a member of this channel.
 * - `NOT_REGISTERED`: the session is not a member of this channel.
 * - `PREDICATE_FAILED`: the predicate given to `broadcastSome` threw; nothing was sent.
 * - `CHANNEL_CLOSED`: the channel was closed with `close()`; it accepts no more sessions or broadcasts.
 * - `BACKPLANE_UNAVAILABLE`: the backplane cannot be reached (Redis down, restarting, or closed); the broadcast or
 *   send was not taken. One in flight when the connection broke may or may not have been taken.
 * - `BACKPLANE_FAILED`: Redis answered with an error (out of memory, a read-only replica, a key of the wrong type in
 *   event-flare's namespace); the message carries Redis's own.
 * - `CLIENT_INVALID_URL` (client): the EventSource rejected the URL given to `fromEventSource`.
 * - `CLIENT_UNREACHABLE` (client): the stream could not be reached at the first attempt; nothing retries.
 * - `CLIENT_HTTP_STATUS` (client): the server answered with a status other than 200 (and 204); nothing retries.
 * - `CLIENT_CONTENT_TYPE` (client): the server answered 200 with a Content-Type other than `text/event-stream`.
 * - `CLIENT_STOPPED` (client): the server asked the client to stop (a 204, or `session-replaced`).
 * - `CLIENT_REFUSED` (client): a browser EventSource was refused and asking again could not say why.
 * - `CLIENT_INVALID_DATA` (client): an event's data is not JSON while JSON parsing is on; sent as an
 *   `invalid-data` notice, never as the stream's error.
 *
 * @example
 * ```ts
 * const retryable = (code: EventFlareErrorCode) => code === "BACKPLANE_UNAVAILABLE" || code === "CLIENT_UNREACHABLE";
 * ```
 */
export type EventFlareErrorCode = (typeof EVENT_FLARE_ERROR_CODES)[number];

/**
 * The one error class event-flare throws. Switch on {@link EventFlareError.code}; the message says how to fix the call.
 *
 * @example
 * ```ts
 * try {
 *   session.sendMessage("late");
 * } catch (error) {
 *   if (!(error instanceof EventFlareError && error.code === "SESSION_CLOSED")) throw error;
 * }
 * ```
 */
export class EventFlareError extends Error {
  /** A stable, machine-readable code. */
  readonly code: EventFlareErrorCode;
  /** The option or field the error is about, when there is one. */
  readonly field: string | undefined;

  /**
   * Creates an error with a code; event-flare throws these, applications rarely need to.
   *
   * @param code The code (see {@link EventFlareErrorCode}).
   * @param message What went wrong and how to fix the call.
   * @param options `field`: the option or field at fault; `cause`: the underlying error.
   */
  constructor(code: EventFlareErrorCode, message: string, options?: { field?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "EventFlareError";
    this.code = code;
    this.field = options?.field;
  }
}

/**
 * True when `value` is an {@link EventFlareError}, optionally with the given code.
 *
 * @example
 * ```ts
 * if (isEventFlareError(error, "CHANNEL_CLOSED")) console.log(error.message);
 * ```
 */
export function isEventFlareError(value: unknown, code?: EventFlareErrorCode): value is EventFlareError {
  return value instanceof EventFlareError && (code === undefined || value.code === code);
}
