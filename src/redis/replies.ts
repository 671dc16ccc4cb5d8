import type { BackplaneEvent } from "../backplane/Backplane.js";
import { type EventId, parseEventId } from "../ids.js";

/** One stream entry as Redis returns it (RESP2): its id and its fields. */
export interface StreamEntry {
  readonly id: EventId;
  readonly fields: ReadonlyMap<string, string>;
}

/** True for a stream's genesis mark (see scripts.ts). */
export function isGenesis(entry: StreamEntry): boolean {
  return entry.fields.has("g");
}

/** `[[id, [field, value, …]], …]` as entries, oldest first as Redis sent them. Entries whose id is not ours are skipped. */
export function parseEntries(reply: unknown): StreamEntry[] {
  const out: StreamEntry[] = [];
  if (!Array.isArray(reply)) return out;
  for (const item of reply) {
    if (!Array.isArray(item)) continue;
    const [rawId, rawFields] = item as [unknown, unknown];
    const id = parseEventId(String(rawId));
    if (id === undefined) continue;
    const fields = new Map<string, string>();
    if (Array.isArray(rawFields)) {
      for (let i = 0; i + 1 < rawFields.length; i += 2) fields.set(String(rawFields[i]), String(rawFields[i + 1]));
    }
    out.push({ id, fields });
  }
  return out;
}

/** An id Redis returned, parsed; `0-0` for an empty or missing one. */
export function parseId(reply: unknown): EventId {
  return parseEventId(String(reply ?? "")) ?? { ms: 0, seq: 0 };
}

/** What an event's JSON (`j`, and the published text) carries: `[data, event name or null, targets, channel or null]`. */
export interface EventPayload {
  readonly data: string;
  readonly event: string | undefined;
  /** For targeted events: the session ids it is for. */
  readonly targets: readonly string[];
}

/** Encodes an event for a stream and its pub/sub channel. */
export function encodePayload(data: string, event: string | undefined, targets: readonly string[] = []): string {
  return JSON.stringify(targets.length === 0 ? [data, event ?? null] : [data, event ?? null, targets]);
}

/** Decodes an event's JSON; undefined for text that is not one (never thrown: it may come from anywhere). */
export function decodePayload(json: string | undefined): EventPayload | undefined {
  if (json === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || typeof value[0] !== "string") return undefined;
  const event = typeof value[1] === "string" ? value[1] : undefined;
  const targets = Array.isArray(value[2]) ? value[2].map(String) : [];
  return { data: value[0], event, targets };
}

/** An entry as the event it carries; undefined for a genesis mark or an entry that is not an event. */
export function toEvent(entry: StreamEntry): (BackplaneEvent & { targets: readonly string[] }) | undefined {
  const payload = decodePayload(entry.fields.get("j"));
  return payload === undefined ? undefined : { id: entry.id, ...payload };
}
