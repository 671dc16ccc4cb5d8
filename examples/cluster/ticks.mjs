// The cluster example's ticks: one per period, cluster-wide, numbered 1, 2, 3… so the page can check that it got
// every one exactly once. One node at a time publishes (a lock in Redis, a key of our own beside event-flare's); when
// it dies, its lock expires and another node carries on from the highest tick it has seen. The number of each tick
// is decided by the node that publishes it, after it saw the previous one, so a node killed mid-tick leaves no hole
// in the numbering; any hole or repeat a client sees is a delivery fault.
import { createClient } from "redis";

const LOCK = "cluster-example:ticker";
const LAST = "cluster-example:last-tick"; // for a node that takes over before it saw any tick

/** Starts ticking on `ticker` (a BroadcastStream on the backplane); resolves with { stop() } once connected. */
export async function startTicking({ url, node, ticker, everyMs }) {
  // Commands fail at once while Redis is down (no offline queue): a lock taken late would be wrong.
  const redis = createClient({ url, disableOfflineQueue: true });
  redis.on("error", () => {}); // the backplane reports outages (errors$)
  await redis.connect();

  let lastSeen = 0; // the highest tick delivered on this node, whoever published it
  ticker.subscribe((event) => {
    if (event.event === "tick") lastSeen = Math.max(lastSeen, JSON.parse(event.data).n);
  });

  async function tick() {
    const ttl = String(3 * everyMs);
    // SET NX GET takes the lock when free and says who held it; the holder extends it every tick.
    const holder = await redis.sendCommand(["SET", LOCK, node, "NX", "PX", ttl, "GET"]);
    if (holder !== null && holder !== node) return;
    if (holder === node) await redis.sendCommand(["PEXPIRE", LOCK, ttl]);
    else lastSeen = Math.max(lastSeen, Number(await redis.get(LAST)));
    const n = lastSeen + 1;
    await ticker.broadcastAll({ n, by: node, at: new Date().toISOString() }, "tick"); // rejects while Redis is down
    lastSeen = Math.max(lastSeen, n);
    await redis.set(LAST, String(n));
  }

  let running; // one tick at a time, even when Redis is slow
  const timer = setInterval(() => {
    // Redis down: no tick this period (nothing is queued to be sent late).
    running ??= tick()
      .catch(() => {})
      .finally(() => {
        running = undefined;
      });
  }, everyMs);

  return {
    async stop() {
      clearInterval(timer);
      await running;
      // Hand the lock over at once rather than after its TTL (best effort).
      if ((await redis.get(LOCK).catch(() => null)) === node) await redis.del(LOCK).catch(() => {});
      redis.destroy();
    },
  };
}
