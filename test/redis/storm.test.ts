import { Agent } from "node:http";
import { createClient } from "redis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type BackplaneNode, startNode } from "../helpers/backplaneNode.js";
import { connectRaw, type RawClient } from "../helpers/rawClient.js";
import { type RedisServer, redisAvailable, startRedis } from "../helpers/redis.js";
import { sleep, waitFor } from "../helpers/server.js";

const enabled = redisAvailable();
let redis: RedisServer;
beforeAll(async () => {
  if (enabled) redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

/** Redis's own count of every command it ran so far, and of its XRANGE commands. */
async function commandsRun(url: string): Promise<{ total: number; xrange: number }> {
  const client = createClient({ url });
  await client.connect();
  const info = await client.info("commandstats");
  await client.close();
  let total = 0;
  for (const match of info.matchAll(/calls=(\d+)/g)) total += Number(match[1]);
  const xrange = Number(/cmdstat_xrange:calls=(\d+)/.exec(info)?.[1] ?? 0);
  return { total, xrange };
}

it.skipIf(!enabled)(
  "a reconnect storm of 1,000 clients is served with shared reads: one replay read per channel per batch",
  async () => {
    const publisher = await startNode(redis.url, "storm-A");
    const nodes: BackplaneNode[] = [publisher];
    const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
    const clients: RawClient[] = [];
    try {
      const ch = "storm";
      const ids: string[] = [];
      for (let i = 0; i < 200; i++) ids.push(await publisher.channel(ch).broadcastAll(`e${i}`));
      // This node keeps the newest 20 events in its ring; the stream keeps about 100 (the publisher's historySize), so
      // a Last-Event-ID older than the ring is replayed from Redis.
      const node = await startNode(redis.url, "storm-B", {}, () => {}, { historySize: 20 });
      nodes.push(node);
      node.channel(ch);
      await sleep(100);
      const keys = createClient({ url: redis.url });
      await keys.connect();
      const oldest = await keys.xRange(`{ef}:c:${ch}`, "-", "+", { COUNT: 2 });
      await keys.close();
      const from = Math.max(ids.indexOf(oldest?.[1]?.id ?? ""), 0) + 5;
      expect(from).toBeLessThan(179); // below the ring: the replay must come from Redis

      const connections = (node.backplane as unknown as { connections: { run: (...a: unknown[]) => unknown } })
        .connections;
      const run = connections.run.bind(connections);
      let replayReads = 0;
      connections.run = (script: unknown, ...rest: unknown[]) => {
        if ((script as { source: string }).source.includes("return standing(KEYS[1], KEYS[2], ARGV[1], ARGV[2])")) {
          replayReads += 1;
        }
        return run(script, ...rest);
      };
      const before = await commandsRun(redis.url);
      const lastEventId = ids[from] as string;
      for (let i = 0; i < 1000; i += 250) {
        const batch = await Promise.all(
          Array.from({ length: 250 }, (_, k) =>
            connectRaw(`${node.server.url}/?ch=${ch}&n=${i + k}`, { "last-event-id": lastEventId }, agent),
          ),
        );
        clients.push(...batch);
      }
      for (const client of clients) await client.waitForEvents(199 - from, 20_000);
      const after = await commandsRun(redis.url);
      for (const client of clients) expect(client.events.map((e) => e.id)).toEqual(ids.slice(from + 1));
      const perReconnect = (after.total - before.total - 1) / 1000;
      const xranges = after.xrange - before.xrange;
      console.log(
        `reconnect storm: 1000 reconnects, ${replayReads} shared replay reads of channel "${ch}" ` +
          `(${xranges} XRANGE), ${perReconnect.toFixed(2)} Redis commands per reconnect`,
      );
      // One XRANGE per channel per batch: each shared read is one XRANGE.
      expect(xranges).toBe(replayReads);
      // Shared: far fewer channel reads than reconnects (one per tick in which reconnects arrived).
      expect(replayReads).toBeGreaterThan(0);
      expect(replayReads).toBeLessThan(100);
      expect(perReconnect).toBeLessThan(3);
      await waitFor(() => node.sessions.length === 1000, "1000 sessions");
    } finally {
      for (const client of clients) client.destroy();
      agent.destroy();
      for (const n of nodes) await n.close();
    }
  },
  120_000,
);
