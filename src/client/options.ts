import { EventFlareError } from "../errors.js";
import { HISTORY_GAP_EVENT, SESSION_REPLACED_EVENT } from "../session/lifecycle.js";
import type { EventSourceConstructor, FromEventSourceOptions } from "./types.js";

// Every default and check of fromEventSource's options, in one place. A bad option throws at the call, naming the
// option and what it accepts, as the server side does.

/** The defaults of {@link FromEventSourceOptions}. */
export const CLIENT_DEFAULTS = {
  /** Events sent without a name: all an EventSource delivers without being told the names. */
  events: ["message"] as readonly string[],
  raw: false,
  withCredentials: false,
} as const;

/** Names that are not events of the application: the EventSource's own, and the signals the client handles. */
const RESERVED = new Set(["open", "error", HISTORY_GAP_EVENT, SESSION_REPLACED_EVENT]);
const KNOWN = new Set(["events", "raw", "withCredentials", "EventSource"]);

export interface ResolvedClientOptions {
  readonly events: readonly string[];
  /** Whether an event's data is kept as text. */
  readonly isRaw: (event: string) => boolean;
  readonly withCredentials: boolean;
  readonly EventSource: EventSourceConstructor;
}

function invalid(field: string, message: string): EventFlareError {
  return new EventFlareError("INVALID_OPTION", `fromEventSource: ${message}`, { field });
}

function eventNames(value: unknown, field: string): readonly string[] {
  if (!Array.isArray(value) || value.some((name) => typeof name !== "string" || name === "" || /[\r\n\0]/.test(name))) {
    throw invalid(field, `${field} must be an array of event names (non-empty strings without CR, LF or NUL).`);
  }
  return value as readonly string[];
}

export function resolveClientOptions(options: FromEventSourceOptions | undefined): ResolvedClientOptions {
  const given = options ?? {};
  if (typeof given !== "object") throw invalid("options", "options must be an object.");
  for (const key of Object.keys(given)) {
    if (!KNOWN.has(key)) throw invalid(key, `unknown option "${key}"; the options are ${[...KNOWN].join(", ")}.`);
  }
  const events = given.events == null ? CLIENT_DEFAULTS.events : eventNames(given.events, "events");
  const reserved = events.filter((name) => RESERVED.has(name));
  if (reserved.length > 0) {
    throw invalid(
      "events",
      `"${reserved[0]}" is not an application event: open and error belong to the EventSource, and ${HISTORY_GAP_EVENT} and ${SESSION_REPLACED_EVENT} are handled by the client.`,
    );
  }
  const raw = given.raw ?? CLIENT_DEFAULTS.raw;
  let isRaw: (event: string) => boolean;
  if (typeof raw === "boolean") isRaw = () => raw;
  else {
    const rawEvents = new Set(eventNames(raw, "raw"));
    isRaw = (event) => rawEvents.has(event);
  }
  const withCredentials = given.withCredentials ?? CLIENT_DEFAULTS.withCredentials;
  if (typeof withCredentials !== "boolean") throw invalid("withCredentials", "withCredentials must be a boolean.");
  const Implementation =
    given.EventSource ?? (globalThis as { EventSource?: EventSourceConstructor }).EventSource ?? undefined;
  if (typeof Implementation !== "function") {
    throw invalid(
      "EventSource",
      given.EventSource == null
        ? 'there is no global EventSource here: pass one as options.EventSource (in Node: import { EventSource } from "eventsource").'
        : "EventSource must be an EventSource constructor.",
    );
  }
  return { events, isRaw, withCredentials, EventSource: Implementation };
}
