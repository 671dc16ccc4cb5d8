import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import v8 from "node:v8";
import vm from "node:vm";
import { afterEach, expect, it, vi } from "vitest";
import { BroadcastStream, Session } from "../src/index.js";
import { type Child, forkFixture } from "./helpers/child.js";
import { waitFor } from "./helpers/server.js";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

let clients: Child | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await clients?.kill();
});

it("holds 10,000 connections on one channel with one heartbeat timer, and a broadcast reaches them all", async () => {
  const CONNECTIONS = 10_000;
  const HEARTBEAT = 2_000;
  const channel = new BroadcastStream("scale");
  const setIntervalSpy = vi.spyOn(globalThis, "setInterval");
  const server = createServer((req, res) => {
    channel.register(new Session(req, res, { heartbeatInterval: HEARTBEAT }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", 2048, resolve));
  const { port } = server.address() as AddressInfo;
  gc();
  const before = process.memoryUsage();

  // The clients run in their own process: each process may hold at most 20,000 open files.
  clients = forkFixture("scale-clients.mjs", { PORT: String(port), CONNECTIONS: String(CONNECTIONS) });
  expect((await clients.next<{ count: number }>("connected", 120_000)).count).toBe(CONNECTIONS);
  await waitFor(() => channel.getActiveConnections() === CONNECTIONS, "every session registered", 30_000);
  gc();
  const after = process.memoryUsage();

  const heartbeatTimers = setIntervalSpy.mock.calls.filter((call) => call[1] === HEARTBEAT).length;
  expect(heartbeatTimers).toBe(1);

  const received = clients.next<{ count: number }>("received", 60_000);
  channel.broadcastAll("hello");
  expect((await received).count).toBe(CONNECTIONS);

  const heapPer = (after.heapUsed - before.heapUsed) / CONNECTIONS;
  const rssPer = (after.rss - before.rss) / CONNECTIONS;
  console.log(
    `scale: ${CONNECTIONS} connections, heap ${(heapPer / 1024).toFixed(2)} KiB and RSS ${(rssPer / 1024).toFixed(2)} KiB per connection (server side, after GC)`,
  );
  // A sanity bound, not a speed claim: tens of KiB per idle connection would mean a leak or a per-session buffer.
  expect(heapPer).toBeLessThan(16 * 1024);

  clients.send({ type: "close" });
  await clients.next("closed");
  await waitFor(() => channel.getActiveConnections() === 0, "every session to close", 60_000);
  await new Promise<void>((resolve) => server.close(() => resolve()));
}, 240_000);
