import { firstValueFrom } from "rxjs";
import type { BackplaneFeed, BackplaneReplay, ChannelLink, FollowResult } from "../backplane/Backplane.js";
import { compareEventIds, type EventId, formatEventId, maxEventId } from "../ids.js";
import type { RedisConnections } from "./connections.js";
import type { KeyLayout } from "./keys.js";
import { encodePayload, isGenesis, parseEntries, parseId, type StreamEntry, toEvent } from "./replies.js";
import type { Subscriber } from "./Subscriber.js";
import { SCRIPTS } from "./scripts.js";
import { standingReplay } from "./standing.js";
import type { NodeUpkeep } from "./upkeep.js";

/** What a channel link uses of its backplane. */
export interface ChannelLinkParts {
  readonly connections: RedisConnections;
  readonly keys: KeyLayout;
  readonly subscriber: Subscriber;
  readonly upkeep: NodeUpkeep;
  send(sessionIds: readonly string[], data: string, event: string | undefined): Promise<EventId>;
  forget(): void;
}

/** A request to replay the channel after an id, waiting for the tick's shared read. */
interface ReplayRequest {
  readonly after: EventId;
  readonly upTo: EventId;
  resolve(result: BackplaneReplay): void;
  reject(error: unknown): void;
}

/**
 * One channel on the Redis backplane: its stream `{prefix}:c:<channel>`, followed by the node's reader.
 *
 * Replays are shared: every request of one tick for this channel is served by one script call that reads the stream
 * from the oldest id asked for to the newest bound, so a storm of reconnects costs one read per channel per tick, not
 * one per client.
 */
export class RedisChannelLink implements ChannelLink {
  private readonly key: string;
  private requests: ReplayRequest[] = [];
  private closed = false;

  constructor(
    private readonly channelId: string,
    private readonly historySize: number,
    private readonly parts: ChannelLinkParts,
  ) {
    this.key = parts.keys.channel(channelId);
  }

  async follow(feed: BackplaneFeed, keep: number): Promise<FollowResult> {
    const { connections, subscriber, keys } = this.parts;
    for (;;) {
      if (this.closed || connections.state === "closed") return { events: [], floor: { ms: 0, seq: 0 } };
      if (connections.state === "connected") {
        try {
          // Subscribed first, then the newest entries read: nothing published in between is missed, and what
          // arrives before the position is known waits for it.
          await subscriber.follow(this.key, { event: (event) => feed.event(event), lost: () => feed.lost() });
          const [maxDeleted, entries] = (await connections.run(
            SCRIPTS.follow,
            [keys.clock, this.key],
            [String(keep)],
          )) as [string, unknown];
          const newestFirst = parseEntries(entries);
          const position = newestFirst[0]?.id ?? { ms: 0, seq: 0 };
          // Delivery starts once the caller has the kept events.
          setImmediate(() => subscriber.start(this.key, position));
          return kept(newestFirst, parseId(maxDeleted));
        } catch {
          subscriber.remove(this.key);
          // Redis went away between the check and the calls: wait for it to come back.
        }
      }
      if (connections.state === "connected") await new Promise((r) => setTimeout(r, 100).unref());
      else await firstValueFrom(connections.ready$).catch(() => undefined);
    }
  }

  async publish(data: string, event: string | undefined): Promise<EventId> {
    const { connections, keys } = this.parts;
    const args = [String(this.historySize), encodePayload(data, event)];
    return parseId(await connections.run(SCRIPTS.publish, [keys.clock, this.key], args));
  }

  publishTo(sessionIds: readonly string[], data: string, event: string | undefined): Promise<EventId> {
    return this.parts.send(sessionIds, data, event);
  }

  replay(after: EventId, upTo: EventId): Promise<BackplaneReplay> {
    return new Promise((resolve, reject) => {
      if (this.requests.length === 0) process.nextTick(() => this.readForRequests());
      this.requests.push({ after, upTo, resolve, reject });
    });
  }

  reportMembers(count: number): void {
    if (!this.closed) this.parts.upkeep.report(this.channelId, count);
  }

  countAll(): Promise<number> {
    return this.parts.upkeep.countAll(this.channelId);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.parts.subscriber.remove(this.key);
    this.parts.upkeep.report(this.channelId, 0);
    this.parts.forget();
  }

  /** Serves every pending replay request with one read, from the oldest id asked for to the newest bound. */
  private readForRequests(): void {
    const requests = this.requests;
    this.requests = [];
    const first = requests[0] as ReplayRequest;
    let oldest = first.after;
    let newest = first.upTo;
    for (const { after, upTo } of requests) {
      if (compareEventIds(after, oldest) < 0) oldest = after;
      newest = maxEventId(newest, upTo);
    }
    const { connections } = this.parts;
    const args = [formatEventId(oldest), formatEventId(newest)];
    connections.run(SCRIPTS.replay, [this.parts.keys.clock, this.key], args).then(
      (reply) => {
        for (const request of requests) request.resolve(standingReplay(reply, request.after, request.upTo));
      },
      (error: unknown) => {
        for (const request of requests) request.reject(error);
      },
    );
  }
}

/**
 * The events of a `FOLLOW` reply (newest first), oldest first, and from which id on they are complete: from the
 * genesis mark when the reply reaches it, else from the oldest entry, and never below the newest deleted id.
 */
function kept(newestFirst: readonly StreamEntry[], maxDeleted: EventId): FollowResult {
  const oldestFirst = [...newestFirst].reverse();
  const genesis = oldestFirst.findIndex(isGenesis);
  const events = oldestFirst.slice(genesis + 1).flatMap((entry) => toEvent(entry) ?? []);
  const first = oldestFirst[Math.max(genesis, 0)]?.id ?? { ms: 0, seq: 0 };
  return { events, floor: maxEventId(first, maxDeleted) };
}
