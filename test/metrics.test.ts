import { connect, type Socket } from "node:net";
import { afterEach, expect, it } from "vitest";
import { BroadcastStream, type EventFlareMetrics, metrics, metrics$ } from "../src/index.js";
import { sleep, waitFor } from "./helpers/server.js";
import { sessionServer } from "./helpers/sessions.js";

let app: Awaited<ReturnType<typeof sessionServer>> | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await app?.close();
  app = undefined;
});

/** What changed between two snapshots, counters only. */
function delta(before: EventFlareMetrics, after: EventFlareMetrics) {
  const closed: Record<string, number> = {};
  for (const [reason, count] of Object.entries(after.sessionsClosed)) {
    const d = count - before.sessionsClosed[reason as keyof typeof before.sessionsClosed];
    if (d !== 0) closed[reason] = d;
  }
  return {
    open: after.openSessions - before.openSessions,
    opened: after.sessionsOpened - before.sessionsOpened,
    closed,
    slow: after.slowConsumerDrops - before.slowConsumerDrops,
    events: after.eventsWritten - before.eventsWritten,
    replayed: after.eventsReplayed - before.eventsReplayed,
    gaps: after.gapSignals - before.gapSignals,
  };
}

it("counts exactly what a scripted run did: sessions by reason, events and bytes, replays, gaps, slow consumers, channels", async () => {
  const before = metrics();
  const channel = new BroadcastStream("metrics-news");
  app = await sessionServer((session) => channel.register(session), {
    heartbeatInterval: 60_000,
    maxBufferedBytes: 64 * 1024,
    maxBurstBytes: 64 * 1024,
  });
  const a = await app.connect("/?sid=metrics-a");
  const b = await app.connect();
  const ids = [channel.broadcastAll("one"), channel.broadcastAll("two"), channel.broadcastAll("three")];
  await a.client.waitForEvents(3);
  await b.client.waitForEvents(3);
  expect(metrics().channels).toContainEqual({ channelId: "metrics-news", members: 2 });
  a.client.destroy();
  await waitFor(() => a.session.getConnectionState() === "DISCONNECTED", "a to close");
  // a comes back after "one": two events replayed; a client with a bad id gets one gap signal.
  const back = await app.connect("/?sid=metrics-a", { "last-event-id": ids[0] as string });
  await back.client.waitForEvents(2);
  const lost = await app.connect("/", { "last-event-id": "not-an-id" });
  await lost.client.waitForEvents(1);
  // A client that never reads, pushed past its bound: a slow-consumer drop.
  const stuck = connect(Number(new URL(app.server.url).port), "127.0.0.1");
  sockets.push(stuck);
  stuck.on("error", () => {});
  await new Promise((resolve) => stuck.once("connect", resolve));
  stuck.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  stuck.pause();
  await waitFor(() => app?.sessions.length === 5, "the stuck session");
  const stuckSession = app.sessions[4];
  for (let i = 0; i < 4 && stuckSession?.getConnectionState() === "CONNECTED"; i++) {
    stuckSession?.sendMessage("x".repeat(200 * 1024));
    await sleep(20);
  }
  await waitFor(() => stuckSession?.getConnectionState() === "DISCONNECTED", "the stuck session to drop");
  b.session.close();
  const after = metrics();
  expect(delta(before, after)).toEqual({
    open: 2, // back and lost
    opened: 5,
    closed: { "client-disconnect": 1, "server-close": 1, "slow-consumer": 1 },
    slow: 1,
    // 3 to a, 3 to b, 2 replayed to a; the gap signal has no id; the stuck client's one event went over its
    // maxBurstBytes before it was written.
    events: 8,
    replayed: 2,
    gaps: 1,
  });
  // Every byte of every stream body: what the clients read, and the stuck client's first line.
  const read = [a, b, back, lost].reduce((sum, c) => sum + Buffer.byteLength(c.client.text()), 0);
  expect(after.bytesWritten - before.bytesWritten).toBe(read + Buffer.byteLength("retry: 1000\n\n"));
  channel.close();
  expect(metrics().channels.some((c) => c.channelId === "metrics-news")).toBe(false);
});

it("metrics$ emits a snapshot at once and then on its period", async () => {
  const seen: EventFlareMetrics[] = [];
  const subscription = metrics$(20).subscribe((m) => seen.push(m));
  await waitFor(() => seen.length >= 3, "three snapshots");
  subscription.unsubscribe();
  expect(seen[0]).toHaveProperty("openSessions");
});
