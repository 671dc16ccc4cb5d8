import type { BackplaneReplay } from "../backplane/Backplane.js";
import { compareEventIds, type EventId, maxEventId } from "../ids.js";
import { parseEntries, parseId, toEvent } from "./replies.js";

/**
 * Reads a `standing` reply (`{clock, genesis or '', max deleted, entries}`, see scripts.ts) for one replay request
 * after `after` (up to `upTo`, inclusive, when given). The rule: an id newer than the clock is `unknown`; a history
 * that is gone, that was created after the id (a new genesis), or that trimmed entries after it, is `too-old`;
 * otherwise every kept entry after it (up to `upTo`) is replayed.
 */
export function standingReplay(reply: unknown, after: EventId, upTo?: EventId): BackplaneReplay {
  const [clock, genesis, maxDeleted, entries] = reply as [string, string, string, unknown];
  if (compareEventIds(after, parseId(clock)) > 0) return { ok: false, reason: "unknown" };
  // Every stream starts with a genesis mark, and trimming it sets the max deleted id: neither means it is gone.
  if (genesis === "" && String(maxDeleted) === "0-0") return { ok: false, reason: "too-old" };
  const floor = maxEventId(parseId(genesis), parseId(maxDeleted));
  if (compareEventIds(after, floor) < 0) return { ok: false, reason: "too-old" };
  const events = parseEntries(entries)
    .filter(
      (entry) => compareEventIds(entry.id, after) > 0 && (upTo === undefined || compareEventIds(entry.id, upTo) <= 0),
    )
    .flatMap((entry) => toEvent(entry) ?? []);
  return { ok: true, events };
}
