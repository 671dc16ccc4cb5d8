import type { Session } from "./Session.js";

/**
 * How a channel recognises a session: by a registered-symbol brand, not `instanceof`. When the ES module and the
 * CommonJS build of event-flare are both loaded (or two installed copies), a session from one must still register in
 * a channel from the other. The value is the version of the internal protocol the two talk over (`deliver`, `hold`,
 * …); copies that speak different versions refuse each other with a clear error.
 */
export const SESSION_BRAND = Symbol.for("event-flare.session");
/** The internal session protocol this copy speaks. */
export const SESSION_PROTOCOL = 1;

/** What `value` is as far as channels are concerned. */
export function sessionProtocolOf(value: unknown): number | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const brand = (value as { [SESSION_BRAND]?: unknown })[SESSION_BRAND];
  return typeof brand === "number" ? brand : undefined;
}

/** True when `value` is a session this copy can drive, whichever copy of event-flare created it. */
export function isSession(value: unknown): value is Session {
  return sessionProtocolOf(value) === SESSION_PROTOCOL;
}
