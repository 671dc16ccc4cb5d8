import type { EventId } from "../ids.js";
import { DEFAULTS } from "../options.js";
import type { RedisConnections } from "./connections.js";
import type { KeyLayout } from "./keys.js";
import { encodePayload, parseEntries, parseId } from "./replies.js";
import { SCRIPTS } from "./scripts.js";

/**
 * Sends one event to sessions by id: one script appends it to the direct stream (which every node reads) and, when
 * `record`, to each session's history, all with one id from the namespace's clock. A history is capped and kept by
 * its own session's settings; one that no session ever opened gets the defaults (100 events, 5 minutes).
 */
export async function sendToScript(
  connections: RedisConnections,
  keys: KeyLayout,
  directHistorySize: number,
  sessionIds: readonly string[],
  record: boolean,
  data: string,
  event: string | undefined,
): Promise<EventId> {
  // Encoding checks every id, recorded or not.
  const histories = sessionIds.flatMap((id) => {
    const pair = [keys.session(id), keys.sessionSettings(id)];
    return record ? pair : [];
  });
  const reply = await connections.run(
    SCRIPTS.sendTo,
    [keys.clock, keys.direct, ...histories],
    [
      String(directHistorySize),
      String(DEFAULTS.historySize),
      String(DEFAULTS.historyTtl),
      encodePayload(data, event, sessionIds),
    ],
  );
  return parseId(reply);
}

/** The id of the newest entry of an `XREVRANGE … COUNT 1` reply, or `0-0` for an empty stream. */
export function parseEventIdOrThrow(reply: unknown): EventId {
  return parseEntries(reply)[0]?.id ?? { ms: 0, seq: 0 };
}
