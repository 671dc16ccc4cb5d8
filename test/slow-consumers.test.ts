import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type Child, forkFixture } from "./helpers/child.js";
import { connectRaw, type RawClient } from "./helpers/rawClient.js";
import { waitFor } from "./helpers/server.js";

const MiB = 1024 * 1024;
const EVENT_SIZE = 16 * 1024;
const TOTAL_BYTES = 40 * MiB;
const EVENTS = TOTAL_BYTES / EVENT_SIZE; // 2560 events of 16 KiB: 40 MB to each client
const BATCH = 32; // 512 KiB per batch, below the 1 MiB default, so a client that keeps up is never dropped

interface Memory {
  rss: number;
  heapUsed: number;
  arrayBuffers: number;
}

let child: Child | undefined;
const sockets: { destroy(): void }[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await child?.kill();
});

/** A TCP client that sends the request and then never reads: the kernel buffers fill and stay full. */
function stuckClient(port: number): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(`GET /?kind=stuck HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
      socket.pause();
      resolve(socket);
    });
    socket.on("error", () => {});
  });
}

/** Runs the scenario against a server child with the given maxBufferedBytes; returns what the child saw. */
async function run(maxBufferedBytes: number) {
  child = forkFixture("stuck-server.mjs", { MAX_BUFFERED_BYTES: String(maxBufferedBytes) });
  const { port } = await child.next<{ port: number }>("ready");
  const stuck = await Promise.all(Array.from({ length: 5 }, () => stuckClient(port)));
  sockets.push(...stuck);
  const healthy: RawClient[] = [];
  for (let i = 0; i < 10; i++) healthy.push(await connectRaw(`http://127.0.0.1:${port}/?kind=healthy`));
  sockets.push(...healthy);
  child.send({ type: "report" });
  const baseline = (await child.next<{ memory: Memory; members: number }>("report")).memory;

  let peakRss = 0;
  for (let total = 0; total < EVENTS; ) {
    child.send({ type: "batch", count: BATCH, size: EVENT_SIZE - 16 });
    const sent = await child.next<{ total: number; memory: Memory }>("sent");
    total = sent.total;
    peakRss = Math.max(peakRss, sent.memory.rss);
    // Pace by the healthy clients, as a producer watching its consumers would.
    await waitFor(
      () => healthy.every((c) => c.events.length >= total || c.ended()),
      `healthy clients at ${total}`,
      30_000,
    );
  }
  child.send({ type: "report" });
  const report = await child.next<{ closed: Record<string, string[]>; memory: Memory; members: number }>("report");
  return { healthy, baseline, peakRss, report };
}

describe("slow consumers", () => {
  it("drops stuck clients as slow-consumer, keeps memory bounded, and never holds back healthy clients", async () => {
    const { healthy, baseline, peakRss, report } = await run(MiB);
    // Every healthy client got every event, in order, exactly once.
    for (const client of healthy) {
      expect(client.ended()).toBe(false);
      const seqs = client.events.map((e) => Number(e.data.slice(0, e.data.indexOf(":"))));
      expect(seqs).toEqual(Array.from({ length: EVENTS }, (_, i) => i));
    }
    expect(report.closed.stuck).toEqual(Array(5).fill("slow-consumer"));
    expect(report.closed.healthy).toBeUndefined();
    expect(report.members).toBe(10);
    const growth = peakRss - baseline.rss;
    console.log(
      `slow consumers: peak RSS growth ${(growth / MiB).toFixed(1)} MiB while 40 MiB went to each of 15 clients; ` +
        `arrayBuffers after GC ${(report.memory.arrayBuffers / MiB).toFixed(1)} MiB`,
    );
    // Unbounded, the stuck clients pin everything they have not read (the control below); the bound keeps each
    // under ~1 MiB of user-space buffer, so after GC almost nothing is held.
    expect(growth).toBeLessThan(64 * MiB);
    expect(report.memory.arrayBuffers).toBeLessThan(16 * MiB);
  }, 120_000);

  it("control: without the bound, the same stuck clients make the server hold what they do not read", async () => {
    const { baseline, report } = await run(1024 * MiB);
    expect(report.closed.stuck).toBeUndefined();
    const held = report.memory.arrayBuffers - baseline.arrayBuffers;
    console.log(`slow consumers, unbounded control: ${(held / MiB).toFixed(1)} MiB of buffers held after GC`);
    // Measured after GC: the queued bytes are live, not garbage. Large frames are shared between sessions (one
    // buffer per broadcast), so five stuck clients pin the ~40 MiB they have not read once, not five times.
    expect(held).toBeGreaterThan(20 * MiB);
  }, 120_000);
});
