import type { BackplaneFeed, BackplaneReplay, SessionLink, SessionLinkOptions } from "../backplane/Backplane.js";
import { type EventId, formatEventId, parseEventId } from "../ids.js";
import type { RedisConnections } from "./connections.js";
import type { KeyLayout } from "./keys.js";
import { isGenesis, parseEntries, toEvent } from "./replies.js";
import { SCRIPTS } from "./scripts.js";
import { standingReplay } from "./standing.js";
import type { NodeUpkeep } from "./upkeep.js";

/** What a session link uses of its backplane. */
export interface SessionLinkParts {
  readonly connections: RedisConnections;
  readonly keys: KeyLayout;
  readonly upkeep: NodeUpkeep;
  send(data: string, event: string | undefined): Promise<EventId>;
  /** The newest id this node has delivered. */
  newest(): EventId;
  /** Where the direct stream stands as of now: its events after this id reach this node's sessions from now on. */
  directFrom(): Promise<EventId | undefined>;
  /** Delivers the direct stream's events for this id to `feed`; returns how to stop. */
  attach(feed: BackplaneFeed): () => void;
}

/**
 * One session on the Redis backplane. Events sent to its id (by itself, by `sendTo` on any node, by a targeted
 * broadcast) arrive through the direct stream, which every node reads. An explicit `sessionId` also has a history,
 * `{prefix}:s:<session>`, held while the session is open on some node and for `historyTtl` after.
 */
export class RedisSessionLink implements SessionLink {
  private detach: (() => void) | undefined;
  private opened = false;

  constructor(
    private readonly sessionId: string,
    private readonly options: SessionLinkOptions,
    private readonly parts: SessionLinkParts,
  ) {}

  async open(
    feed: BackplaneFeed,
    after: string | EventId | undefined,
    replayLast: number,
  ): Promise<BackplaneReplay | undefined> {
    // Direct events after `live` are delivered from now on: the replay below stops there, so the two do not overlap
    // and the replay never runs ahead of what this node hands its sessions from the channels.
    this.detach = this.parts.attach(feed);
    if (!this.options.explicit) return undefined;
    const live = this.parts.directFrom();
    const { keys, upkeep, connections } = this.parts;
    this.opened = true;
    upkeep.sessionOpened(this.sessionId, this.options.historyTtl);
    const since = typeof after === "string" ? parseEventId(after) : after;
    const opensAt = formatEventId(this.parts.newest());
    if (after !== undefined && since === undefined) {
      await this.touch();
      return { ok: false, reason: "malformed" };
    }
    const upTo = await live;
    const reply = await connections.run(
      SCRIPTS.openSession,
      [keys.clock, keys.session(this.sessionId), keys.sessionSettings(this.sessionId)],
      [
        String(upkeep.holdFor(this.options.historyTtl)),
        since === undefined ? "" : formatEventId(since),
        String(replayLast),
        String(this.options.historySize),
        String(this.options.historyTtl),
        opensAt,
        upTo === undefined ? "+" : formatEventId(upTo),
      ],
    );
    if (since !== undefined) return standingReplay(reply, since, upTo);
    if (replayLast === 0) return undefined;
    const newest = parseEntries((reply as unknown[])[3])
      .filter((entry) => !isGenesis(entry))
      .slice(0, replayLast)
      .reverse();
    return { ok: true, events: newest.flatMap((entry) => toEvent(entry) ?? []) };
  }

  send(data: string, event: string | undefined): Promise<EventId> {
    return this.parts.send(data, event);
  }

  close(): void {
    this.detach?.();
    this.detach = undefined;
    if (!this.opened) return;
    this.opened = false;
    this.parts.upkeep.sessionClosed(this.sessionId, this.options.historyTtl);
  }

  /** Holds the history without reading it (a malformed Last-Event-ID still opens the session). */
  private async touch(): Promise<void> {
    const { keys, upkeep, connections } = this.parts;
    const hold = String(upkeep.holdFor(this.options.historyTtl));
    await connections.run(
      SCRIPTS.openSession,
      [keys.clock, keys.session(this.sessionId), keys.sessionSettings(this.sessionId)],
      [hold, "", "0", String(this.options.historySize), String(this.options.historyTtl), "", "+"],
    );
  }
}
