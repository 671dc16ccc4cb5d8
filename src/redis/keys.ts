import { EventFlareError } from "../errors.js";

/**
 * Where event-flare keeps its state in Redis. Every key starts with the same hash tag, `{<prefix>}`, so that every
 * script touches keys of one slot: on a Redis Cluster the whole namespace lives on one shard. That is the price of one
 * clock for every channel and session, which is what lets one Last-Event-ID resume them all. Run several namespaces
 * (the `prefix` option) to spread independent applications over shards.
 *
 * | key                      | type   | holds                                                                  |
 * | ------------------------ | ------ | ---------------------------------------------------------------------- |
 * | `{ef}:clock`             | hash   | the newest id issued (`ms`, `seq`): one clock for the namespace        |
 * | `{ef}:c:<channel>`       | stream | a channel's events, `MAXLEN ~ historySize`, first entry a genesis mark |
 * | `{ef}:s:<session>`       | stream | an explicit sessionId's events, expiring `historyTtl` after its last use |
 * | `{ef}:sc:<session>`      | hash   | that session's `historySize` and `historyTtl`, for senders on other nodes |
 * | `{ef}:direct`            | stream | targeted events (`sendTo`, `broadcastSome`), read by every node        |
 * | `{ef}:p:<channel>`       | hash   | members per node, for `countAll()`                                     |
 * | `{ef}:n:<node>`          | string | a node's heartbeat; its expiry drops the node's counts                 |
 *
 * Channel and session ids are encoded, never rejected for their characters: letters, digits and `._~-` stay as they
 * are, every other byte of their UTF-8 form is written `%XX`. So a `:`, a `*`, a brace or a line break in an id can
 * neither collide with another key nor act as a pattern in `SCAN`. Ids longer than 256 characters are rejected.
 *
 * @example
 * ```ts
 * new KeyLayout("ef").channel("prices"); // "{ef}:c:prices"
 * ```
 */
export class KeyLayout {
  /** The hash holding the namespace's clock. */
  readonly clock: string;
  /** The stream of targeted events. */
  readonly direct: string;
  private readonly tag: string;

  /** @throws EventFlareError `INVALID_OPTION` for a prefix that is not 1 to 32 of `A-Za-z0-9._-`. */
  constructor(prefix: string) {
    if (typeof prefix !== "string" || !/^[A-Za-z0-9._-]{1,32}$/.test(prefix)) {
      throw new EventFlareError(
        "INVALID_OPTION",
        'Redis backplane option "prefix" must be 1 to 32 characters of A-Z, a-z, 0-9, ".", "_" and "-".',
        { field: "prefix" },
      );
    }
    this.tag = `{${prefix}}`;
    this.clock = `${this.tag}:clock`;
    this.direct = `${this.tag}:direct`;
  }

  /** A channel's stream. */
  channel(channelId: string): string {
    return `${this.tag}:c:${encodeId(channelId, "channelId")}`;
  }

  /** An explicit sessionId's stream. */
  session(sessionId: string): string {
    return `${this.tag}:s:${encodeId(sessionId, "sessionId")}`;
  }

  /** The hash of a session's history settings. */
  sessionSettings(sessionId: string): string {
    return `${this.tag}:sc:${encodeId(sessionId, "sessionId")}`;
  }

  /** What every node heartbeat key starts with. */
  get nodePrefix(): string {
    return `${this.tag}:n:`;
  }

  /** The hash of a channel's member counts per node. */
  presence(channelId: string): string {
    return `${this.tag}:p:${encodeId(channelId, "channelId")}`;
  }

  /** A node's heartbeat key. */
  node(nodeId: string): string {
    return `${this.tag}:n:${encodeId(nodeId, "nodeId")}`;
  }
}

/** The longest channel id, sessionId or nodeId the backplane takes, in characters. */
export const MAX_ID_LENGTH = 256;
const PLAIN = /^[A-Za-z0-9._~-]*$/;

/** `id` in key-safe form (see {@link KeyLayout}). */
export function encodeId(id: string, field: string): string {
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw new EventFlareError(
      "INVALID_ARGUMENT",
      `A ${field} on the Redis backplane must be a string of 1 to ${MAX_ID_LENGTH} characters.`,
      { field },
    );
  }
  if (PLAIN.test(id)) return id;
  let out = "";
  for (const byte of Buffer.from(id, "utf8")) {
    const c = String.fromCharCode(byte);
    out += byte < 0x80 && PLAIN.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
