import type { Subscription } from "rxjs";
import type { RedisConnections } from "./connections.js";
import { encodeId, type KeyLayout } from "./keys.js";
import { SCRIPTS } from "./scripts.js";

/**
 * What a node keeps alive in Redis, and gives back when it closes:
 * - its heartbeat key, `{prefix}:n:<node>`, with a TTL, so a node that dies drops out of every count within the TTL;
 * - its member count per channel, in `{prefix}:p:<channel>` (field: the node), written at most every 50 ms;
 * - the histories of the sessions open on it, whose expiry it pushes back while they are open, so they expire
 *   `historyTtl` after the session closes (or after the node dies), not while a client is connected.
 *
 * After an outage everything is written again: a Redis that restarted without persistence has forgotten it all.
 */
export class NodeUpkeep {
  private readonly counts = new Map<string, number>();
  private readonly dirty = new Set<string>();
  /** Open explicit sessions: their keys (history, settings), open count on this node, and hold while open. */
  private readonly sessions = new Map<string, { keys: readonly string[]; users: number; ttl: number }>();
  private readonly timer: NodeJS.Timeout;
  private readonly readySubscription: Subscription;
  private flushScheduled = false;

  constructor(
    private readonly connections: RedisConnections,
    private readonly keys: KeyLayout,
    private readonly nodeId: string,
    private readonly ttl: number,
  ) {
    this.timer = setInterval(() => this.beat(), Math.max(1, Math.floor(ttl / 3)));
    this.timer.unref();
    this.readySubscription = connections.ready$.subscribe(() => {
      this.beat();
      for (const channelId of this.counts.keys()) this.dirty.add(channelId);
      this.flush();
    });
  }

  /** How long an open session's history is held at least: two beats past its TTL. */
  holdFor(historyTtl: number): number {
    return historyTtl + 2 * this.ttl;
  }

  /** This node now has `count` members in `channelId` (0 withdraws the node from the channel). */
  report(channelId: string, count: number): void {
    if (count === 0) this.counts.delete(channelId);
    else this.counts.set(channelId, count);
    this.dirty.add(channelId);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Written at most every FLUSH_MS per node: a storm of joins costs one write per channel, not one per join.
    setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  /** The members of `channelId` on every live node. */
  async countAll(channelId: string): Promise<number> {
    return Number(await this.connections.run(SCRIPTS.count, [this.keys.presence(channelId)], [this.keys.nodePrefix]));
  }

  /** A session with an explicit id opened on this node; its history (and settings) are held while it is open. */
  sessionOpened(sessionId: string, historyTtl: number): void {
    const entry = this.sessions.get(sessionId);
    if (entry !== undefined) entry.users += 1;
    else {
      const keys = [this.keys.session(sessionId), this.keys.sessionSettings(sessionId)];
      this.sessions.set(sessionId, { keys, users: 1, ttl: this.holdFor(historyTtl) });
    }
  }

  /** It closed: the last one on this node starts its history's TTL. */
  sessionClosed(sessionId: string, historyTtl: number): void {
    const entry = this.sessions.get(sessionId);
    if (entry === undefined) return;
    entry.users -= 1;
    if (entry.users > 0) return;
    this.sessions.delete(sessionId);
    for (const key of entry.keys) this.connections.call(["PEXPIRE", key, String(historyTtl)]).catch(() => {});
  }

  /** Gives back what this node holds: its heartbeat and its counts. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.readySubscription.unsubscribe();
    const field = encodeId(this.nodeId, "nodeId");
    const calls = [...this.counts.keys()].map((channelId) =>
      this.connections.call(["HDEL", this.keys.presence(channelId), field]),
    );
    calls.push(this.connections.call(["DEL", this.keys.node(this.nodeId)]));
    await Promise.all(calls.map((call) => call.catch(() => {})));
  }

  private beat(): void {
    if (this.connections.state !== "connected") return;
    const ignore = () => {};
    this.connections.call(["SET", this.keys.node(this.nodeId), "1", "PX", String(this.ttl)]).catch(ignore);
    for (const { keys, ttl } of this.sessions.values()) {
      for (const key of keys) this.connections.call(["PEXPIRE", key, String(ttl)]).catch(ignore);
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.connections.state !== "connected") return;
    const field = encodeId(this.nodeId, "nodeId");
    for (const channelId of this.dirty) {
      const count = this.counts.get(channelId);
      const key = this.keys.presence(channelId);
      const call = count === undefined ? ["HDEL", key, field] : ["HSET", key, field, String(count)];
      // A failed write is repeated after the next outage (every count is written again then).
      this.connections.call(call).catch(() => {});
    }
    this.dirty.clear();
  }
}

/** How long member counts gather before they are written. */
const FLUSH_MS = 50;
