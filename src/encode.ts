import { EventFlareError } from "./errors.js";

/**
 * The fields of one server-sent event, before encoding.
 *
 * @example
 * ```ts
 * const fields: SseFields = { event: "price", id: "1-0", data: "245.65" };
 * encodeEvent(fields); // "event: price\nid: 1-0\ndata: 245.65\n\n"
 * ```
 */
export interface SseFields {
  /** The event data. Split on CRLF, CR and LF into one `data:` line per piece; `""` is sent as one empty line. */
  data: string;
  /** The event type (`event:` field). Omitted when undefined; must not contain CR, LF or NUL. */
  event?: string | undefined;
  /** The event id (`id:` field). Omitted when undefined; must not contain CR, LF or NUL. */
  id?: string | undefined;
  /** The reconnection time in milliseconds (`retry:` field). A non-negative integer. */
  retry?: number | undefined;
}

const LINE_BREAK = /\r\n|\r|\n/;
const FORBIDDEN_IN_FIELD = /[\r\n\0]/;

/**
 * Throws `INVALID_FIELD` unless `value` can be written as the value of a single-line field.
 * Checked before anything is written, so a bad field never leaves a half-written event on the wire.
 */
export function assertFieldValue(field: "event" | "id", value: unknown): asserts value is string {
  if (typeof value !== "string") {
    throw new EventFlareError("INVALID_FIELD", `The "${field}" field must be a string, got ${describe(value)}.`, {
      field,
    });
  }
  if (FORBIDDEN_IN_FIELD.test(value)) {
    throw new EventFlareError(
      "INVALID_FIELD",
      `The "${field}" field must not contain CR, LF or NUL: a line break would end the field early and inject other fields. Put multi-line text in the data instead.`,
      { field },
    );
  }
}

/** Throws `INVALID_FIELD` unless `value` is a valid `retry:` value (a non-negative safe integer). */
export function assertRetryValue(value: unknown): asserts value is number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new EventFlareError(
      "INVALID_FIELD",
      `The "retry" field must be a non-negative integer number of milliseconds, got ${describe(value)}: clients ignore any other value.`,
      { field: "retry" },
    );
  }
}

/**
 * Encodes one event as wire text, ending with the blank line that dispatches it.
 *
 * `data` is always written (an `id:` without `data:` would not update event-source-polyfill's last id),
 * with a space after each colon so that data starting with a space survives the parser's one-space strip.
 *
 * @throws EventFlareError `INVALID_FIELD` when `event` or `id` contains CR, LF or NUL, or `retry` is not a non-negative integer.
 *
 * @example
 * ```ts
 * encodeEvent({ event: "price", data: "a\nb" }); // "event: price\ndata: a\ndata: b\n\n"
 * ```
 */
export function encodeEvent(fields: SseFields): string {
  let out = "";
  if (fields.event !== undefined) {
    assertFieldValue("event", fields.event);
    out += `event: ${fields.event}\n`;
  }
  if (fields.id !== undefined) {
    assertFieldValue("id", fields.id);
    out += `id: ${fields.id}\n`;
  }
  if (fields.retry !== undefined) {
    assertRetryValue(fields.retry);
    out += `retry: ${fields.retry}\n`;
  }
  return `${out}${encodeDataLines(fields.data)}\n`;
}

function encodeDataLines(data: string): string {
  // Fast path: most payloads (JSON, numbers) have no line break at all.
  if (!LINE_BREAK.test(data)) return `data: ${data}\n`;
  let out = "";
  for (const line of data.split(LINE_BREAK)) out += `data: ${line}\n`;
  return out;
}

/**
 * Encodes a comment: one `:` line per line of `text`. Clients ignore comments; they keep idle connections open.
 * `encodeComment("")` is a bare `:` line.
 *
 * @example
 * ```ts
 * encodeComment("keep-alive"); // ": keep-alive\n"
 * ```
 */
export function encodeComment(text: string): string {
  let out = "";
  for (const line of text.split(LINE_BREAK)) out += line === "" ? ":\n" : `: ${line}\n`;
  return out;
}

/**
 * Encodes a stand-alone `retry:` field followed by a blank line. The blank line dispatches nothing,
 * because the data buffer is empty, so clients only update their reconnection time.
 *
 * @throws EventFlareError `INVALID_FIELD` unless `ms` is a non-negative integer.
 *
 * @example
 * ```ts
 * encodeRetry(2000); // "retry: 2000\n\n"
 * ```
 */
export function encodeRetry(ms: number): string {
  assertRetryValue(ms);
  return `retry: ${ms}\n\n`;
}

/** The heartbeat written on every tick of the shared heartbeat timer: one comment line. */
export const HEARTBEAT_FRAME = encodeComment("");

function describe(value: unknown): string {
  if (typeof value === "string") return `a string of ${value.length} characters`;
  if (typeof value === "number") return String(value);
  if (value === null) return "null";
  return typeof value;
}
