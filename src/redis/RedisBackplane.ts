import { randomUUID } from "node:crypto";
import { firstValueFrom, type Observable } from "rxjs";
import type {
  Backplane,
  BackplaneFeed,
  BackplaneState,
  ChannelLink,
  SessionLink,
  SessionLinkOptions,
} from "../backplane/Backplane.js";
import { describeValue } from "../describe.js";
import { assertFieldValue } from "../encode.js";
import { EventFlareError } from "../errors.js";
import { formatEventId } from "../ids.js";
import { messageToData } from "../message.js";
import { RedisChannelLink } from "./channelLink.js";
import { type RedisClientLike, RedisConnections } from "./connections.js";
import { encodeId, KeyLayout } from "./keys.js";
import { parseEventIdOrThrow, sendToScript } from "./operations.js";
import { REDIS_BACKPLANE_DEFAULTS, type RedisBackplaneOptions, redisClientFor } from "./options.js";
import { type DeliveredEvent, Subscriber } from "./Subscriber.js";
import { RedisSessionLink } from "./sessionLink.js";
import { NodeUpkeep } from "./upkeep.js";

/**
 * A Redis Streams backplane: channels and sessions on it reach every node (see {@link createRedisBackplane}).
 *
 * Its state is observable (`state$`: `connecting`, `connected`, `reconnecting`, `closed`) and its failures are typed
 * (`errors$`): nothing it does throws out of a callback or rejects unhandled.
 * While Redis is unreachable, every broadcast and send rejects at once with `BACKPLANE_UNAVAILABLE` (nothing is
 * queued to be sent late); sessions stay open, and delivery goes on from where each node stood once Redis is back.
 *
 * @example
 * ```ts
 * const backplane = createRedisBackplane({ url: "redis://127.0.0.1:6379" });
 * backplane.errors$.subscribe((error) => console.error(error.code, error.message));
 * await backplane.ready();
 * const ticks = new BroadcastStream("ticks", { backplane });
 * ```
 */
export class RedisBackplane implements Backplane {
  /** This node's name in presence counts. */
  readonly nodeId: string;
  private readonly connections: RedisConnections;
  private readonly keys: KeyLayout;
  private readonly subscriber: Subscriber;
  private readonly upkeep: NodeUpkeep;
  private readonly directHistorySize: number;
  private readonly channels = new Map<string, RedisChannelLink>();
  /** Sessions open on this node by id, for the direct stream. */
  private readonly sessions = new Map<string, Set<BackplaneFeed>>();
  private closed: Promise<void> | undefined;

  /** Use {@link createRedisBackplane}, which checks the options and makes the client. */
  constructor(template: RedisClientLike, options: RedisBackplaneOptions) {
    this.keys = new KeyLayout(options.prefix ?? REDIS_BACKPLANE_DEFAULTS.prefix);
    this.nodeId = options.nodeId ?? randomUUID();
    encodeId(this.nodeId, "nodeId");
    this.directHistorySize = options.directHistorySize ?? REDIS_BACKPLANE_DEFAULTS.directHistorySize;
    this.connections = new RedisConnections(template);
    this.subscriber = new Subscriber(this.connections, this.keys.clock);
    this.upkeep = new NodeUpkeep(
      this.connections,
      this.keys,
      this.nodeId,
      options.nodeTtl ?? REDIS_BACKPLANE_DEFAULTS.nodeTtl,
    );
    this.followDirect();
    this.connections.start();
  }

  /** The connection state now. */
  get state(): BackplaneState {
    return this.connections.state;
  }

  /** `connecting`, `connected`, `reconnecting` or `closed`: the current value at once, then each change. */
  get state$(): Observable<BackplaneState> {
    return this.connections.state$;
  }

  /** Every failure to reach Redis (once per distinct failure per outage), as `BACKPLANE_UNAVAILABLE` or `BACKPLANE_FAILED`. */
  get errors$(): Observable<EventFlareError> {
    return this.connections.errors$;
  }

  /** Resolves once connected; rejects with `BACKPLANE_UNAVAILABLE` if not within `timeout` ms (default 10000). */
  ready(timeout = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        subscription.unsubscribe();
        reject(
          new EventFlareError("BACKPLANE_UNAVAILABLE", `The Redis backplane did not connect within ${timeout} ms.`),
        );
      }, timeout);
      const subscription = this.connections.state$.subscribe((state) => {
        if (state !== "connected" && state !== "closed") return;
        clearTimeout(timer);
        queueMicrotask(() => subscription.unsubscribe());
        if (state === "connected") resolve();
        else reject(new EventFlareError("BACKPLANE_UNAVAILABLE", "The Redis backplane was closed."));
      });
    });
  }

  /**
   * Sends one event to the sessions with these ids, on whichever node holds them, and keeps it in their histories
   * (each a Redis stream expiring `historyTtl` after its last write): a session that is away gets it when it
   * reconnects with its Last-Event-ID. An id that no node holds is kept for its reconnect the same way.
   *
   * @returns The event id.
   * @throws EventFlareError `INVALID_MESSAGE`, `INVALID_FIELD` or `INVALID_ARGUMENT` (at once); rejects with
   * `BACKPLANE_UNAVAILABLE` or `BACKPLANE_FAILED`.
   */
  sendTo(sessionIds: string | readonly string[], msg: unknown, eventName?: string): Promise<string> {
    const ids = typeof sessionIds === "string" ? [sessionIds] : sessionIds;
    if (!Array.isArray(ids)) {
      throw new EventFlareError(
        "INVALID_ARGUMENT",
        `sendTo takes a sessionId or a list of them, got ${describeValue(ids)}.`,
      );
    }
    for (const id of ids) this.keys.session(id);
    const data = messageToData(msg);
    if (eventName !== undefined) assertFieldValue("event", eventName);
    return this.send(ids, true, data, eventName).then(formatEventId);
  }

  /** Stops following, gives back this node's presence, and closes both connections. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      for (const link of [...this.channels.values()]) link.close();
      await this.upkeep.close();
      this.subscriber.stop();
      await this.connections.close();
    })();
    return this.closed;
  }

  /** The link a channel on this backplane uses (part of the `Backplane` seam; not for application code). */
  channel(channelId: string, historySize: number): ChannelLink {
    if (this.channels.has(channelId)) {
      throw new EventFlareError(
        "INVALID_ARGUMENT",
        `Channel ${describeValue(channelId)} is already open on this backplane in this process: reuse it, or close it first.`,
        { field: "channelId" },
      );
    }
    const link = new RedisChannelLink(channelId, historySize, {
      connections: this.connections,
      keys: this.keys,
      subscriber: this.subscriber,
      upkeep: this.upkeep,
      send: (ids, data, event) => this.send(ids, true, data, event),
      forget: () => this.channels.delete(channelId),
    });
    this.channels.set(channelId, link);
    return link;
  }

  /** The link a session on this backplane uses (part of the `Backplane` seam; not for application code). */
  session(sessionId: string, options: SessionLinkOptions): SessionLink {
    return new RedisSessionLink(sessionId, options, {
      connections: this.connections,
      keys: this.keys,
      upkeep: this.upkeep,
      send: (data, event) => this.send([sessionId], options.explicit, data, event),
      newest: () => this.subscriber.newest,
      directFrom: () => this.subscriber.handsAfter(this.keys.direct),
      attach: (feed) => this.attach(sessionId, feed),
    });
  }

  private send(sessionIds: readonly string[], record: boolean, data: string, event: string | undefined) {
    return sendToScript(this.connections, this.keys, this.directHistorySize, sessionIds, record, data, event);
  }

  /** Delivers the direct stream's events to this node's sessions, by id. */
  private followDirect(): void {
    const handler = {
      event: (event: DeliveredEvent) => {
        for (const target of event.targets) for (const feed of this.sessions.get(target) ?? []) feed.event(event);
      },
      lost: () => {
        for (const feeds of this.sessions.values()) for (const feed of feeds) feed.lost();
      },
    };
    // Followed from where the stream stands when the node first connects: targeted events are for sessions open
    // here, and none is open before. The subscription is in place before the position is read.
    const direct = this.keys.direct;
    const follow = async (): Promise<void> => {
      while (this.connections.state !== "closed") {
        if (this.connections.state !== "connected") {
          await firstValueFrom(this.connections.ready$).catch(() => undefined);
          continue;
        }
        try {
          await this.subscriber.follow(direct, handler);
          const newest = await this.connections.call(["XREVRANGE", direct, "+", "-", "COUNT", "1"]);
          this.subscriber.start(direct, parseEventIdOrThrow(newest));
          return;
        } catch {
          this.subscriber.remove(direct);
          if (this.connections.state === "connected") await new Promise((r) => setTimeout(r, 100).unref());
        }
      }
    };
    void follow();
  }

  private attach(sessionId: string, feed: BackplaneFeed): () => void {
    let feeds = this.sessions.get(sessionId);
    if (feeds === undefined) {
      feeds = new Set();
      this.sessions.set(sessionId, feeds);
    }
    feeds.add(feed);
    return () => {
      const current = this.sessions.get(sessionId);
      if (current?.delete(feed) === true && current.size === 0) this.sessions.delete(sessionId);
    };
  }
}

/**
 * A Redis Streams backplane for channels and sessions that must reach clients on every node.
 *
 * ```ts
 * const backplane = createRedisBackplane({ url: "redis://127.0.0.1:6379" }); // or { client }
 * const ticker = new BroadcastStream("AAPL", { backplane });
 * const session = new Session(req, res, { sessionId: `${user.id}:${tab}`, backplane });
 * ticker.register(session);
 * await ticker.broadcastAll({ price: 245.65 }, "price"); // reaches AAPL's members on every node
 * ```
 *
 * Needs Redis 7 or later and the `redis` package (node-redis 5 or later), an optional peer dependency.
 *
 * @throws EventFlareError `INVALID_OPTION` for a missing or malformed URL, a client that is not a node-redis client,
 * or a bad prefix, node id or number.
 *
 * @example
 * ```ts
 * const backplane = createRedisBackplane({ url: "redis://127.0.0.1:6379" });
 * const channel = new BroadcastStream("ticks", { backplane });
 * const id = await channel.broadcastAll({ n: 1 }, "tick"); // the same id on every node
 * ```
 */
export function createRedisBackplane(options: RedisBackplaneOptions): RedisBackplane {
  return new RedisBackplane(redisClientFor(options), options);
}
