import type { SchedulerLike } from "rxjs";
import type { Backplane } from "./backplane/Backplane.js";
import { describeValue } from "./describe.js";
import { EventFlareError } from "./errors.js";
import type { BroadcastStreamOptions, SessionOptions } from "./options.js";

/** How each option's value is checked; the defaults and the resolved shapes live in options.ts. */

const MAX_SESSION_ID_LENGTH = 256;
/** setTimeout's limit; a longer delay fires at once, which is never what was meant. */
const MAX_DELAY = 2 ** 31 - 1;

/** What an option must be, when `value` is not that; undefined when it is. */
type Check = (value: unknown) => string | undefined;

const positiveDelay: Check = (v) =>
  typeof v === "number" && Number.isFinite(v) && v >= 1 && v <= MAX_DELAY
    ? undefined
    : `a number of milliseconds from 1 to ${MAX_DELAY}`;
const nonNegativeDelay: Check = (v) =>
  typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= MAX_DELAY
    ? undefined
    : `a number of milliseconds from 0 to ${MAX_DELAY}`;
const nonNegativeInteger: Check = (v) =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? undefined : "a non-negative integer";
// Clients wait `retry` milliseconds with a timer: past setTimeout's limit it fires at once, so a client would
// reconnect in a tight loop.
const retryDelay: Check = (v) =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && v <= MAX_DELAY
    ? undefined
    : `an integer number of milliseconds from 0 to ${MAX_DELAY}`;
const positiveInteger: Check = (v) =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 1 ? undefined : "a positive integer";
const sliceSize: Check = (v) =>
  typeof v === "number" && ((Number.isSafeInteger(v) && v >= 1) || v === Number.POSITIVE_INFINITY)
    ? undefined
    : "a positive integer, or Infinity";
const sessionIdCheck: Check = (v) =>
  typeof v === "string" && v.length >= 1 && v.length <= MAX_SESSION_ID_LENGTH
    ? undefined
    : `a non-empty string of at most ${MAX_SESSION_ID_LENGTH} characters`;
const schedulerCheck: Check = (v) =>
  typeof v === "object" &&
  v !== null &&
  typeof (v as SchedulerLike).schedule === "function" &&
  typeof (v as SchedulerLike).now === "function"
    ? undefined
    : "an RxJS SchedulerLike";

const backplaneCheck: Check = (v) =>
  typeof v === "object" &&
  v !== null &&
  typeof (v as Backplane).channel === "function" &&
  typeof (v as Backplane).session === "function"
    ? undefined
    : "a backplane, such as createRedisBackplane() from event-flare/redis";

/** The check of each session option. */
export const SESSION_CHECKS: Record<keyof SessionOptions | "backplane", Check> = {
  heartbeatInterval: positiveDelay,
  retryInterval: retryDelay,
  historySize: positiveInteger,
  sessionId: sessionIdCheck,
  historyTtl: nonNegativeDelay,
  maxBufferedBytes: positiveInteger,
  maxBurstBytes: positiveInteger,
  drainTimeout: positiveDelay,
  flushInterval: nonNegativeDelay,
  flushSliceSize: sliceSize,
  replayLast: nonNegativeInteger,
  scheduler: schedulerCheck,
  backplane: backplaneCheck,
};

/** The check of each channel option. */
export const CHANNEL_CHECKS: Record<keyof BroadcastStreamOptions | "backplane", Check> = {
  historySize: positiveInteger,
  historyMaxAge: positiveDelay,
  replayLast: nonNegativeInteger,
  scheduler: schedulerCheck,
  backplane: backplaneCheck,
};

/**
 * Checks every given option (`undefined` or `null` means "use the default") and rejects unknown names,
 * so a typo such as `heartbeatIntervall` fails loudly instead of silently using the default.
 */
export function checkOptions<T extends object>(
  input: unknown,
  checks: Record<keyof T, Check>,
  owner: string,
): Partial<T> {
  if (input === undefined || input === null) return {};
  if (typeof input !== "object" || Array.isArray(input)) {
    throw new EventFlareError("INVALID_OPTION", `${owner} options must be an object, got ${describeValue(input)}.`, {
      field: "options",
    });
  }
  for (const [name, value] of Object.entries(input)) {
    const check = (checks as Record<string, Check>)[name];
    if (check === undefined) {
      const known = Object.keys(checks).join(", ");
      throw new EventFlareError(
        "INVALID_OPTION",
        `Unknown ${owner} option ${describeValue(name)}. Known options: ${known}.`,
        {
          field: name,
        },
      );
    }
    if (value === undefined || value === null) continue;
    const expected = check(value);
    if (expected !== undefined) {
      // The value may come from a client: it is described (quoted, cut short, escaped), never echoed raw.
      throw new EventFlareError(
        "INVALID_OPTION",
        `${owner} option "${name}" must be ${expected}, got ${describeValue(value)}.`,
        { field: name },
      );
    }
  }
  // Nulls were skipped above: from here on they read as absent.
  return input as Partial<T>;
}
