import { asyncScheduler } from "rxjs";
import { describe, expect, it } from "vitest";
import { resolveSessionOptions } from "../src/options.js";
import { FlushQueue } from "../src/session/flushQueue.js";
import type { OutboundFrame } from "../src/session/outboundFrame.js";
import { SessionWriter } from "../src/session/SessionWriter.js";
import { FakeConnection } from "./helpers/fakeConnection.js";

const frame = (n: number): OutboundFrame => ({
  id: { ms: 1, seq: n },
  frame: Buffer.from(`id: 1-${n}\ndata: ${n}\n\n`),
});
const tick = () => new Promise<void>((resolve) => process.nextTick(resolve));

/** `n` writers on one queue of window 0 and slice `k`, whose next turns the test runs by hand. */
function fanOut(n: number, k: number) {
  let turn = 0;
  const turns: (() => void)[] = [];
  const queue = new FlushQueue(0, asyncScheduler, k, (work) => turns.push(work));
  const limits = resolveSessionOptions(undefined);
  const all = Array.from({ length: n }, () => {
    const connection = new FakeConnection(() => turn);
    return { connection, writer: new SessionWriter(connection, queue, limits, { writerOverflowed: () => {} }) };
  });
  const nextTurn = () => {
    turn += 1;
    (turns.shift() as () => void)();
  };
  const broadcast = (f: OutboundFrame) => {
    for (const { writer } of all) writer.write(f);
  };
  return { all, turns, nextTurn, broadcast };
}

describe("fan-out in bounded slices", () => {
  it("writes to at most K sessions per turn, every session gets every event once, in order", async () => {
    const { all, turns, nextTurn, broadcast } = fanOut(1_050, 200);
    broadcast(frame(0));
    await tick();
    // The end of the broadcast's turn flushes the first slice; the rest wait for the next turns.
    expect(all.filter(({ connection }) => connection.writes.length > 0)).toHaveLength(200);
    expect(turns).toHaveLength(1);
    // Broadcasts go on meanwhile: sessions already written get the new event in the next slices, the others join it
    // to the batch they are waiting with.
    broadcast(frame(1));
    nextTurn();
    broadcast(frame(2));
    while (turns.length > 0) nextTurn();

    const perTurn = new Map<number, number>();
    for (const { connection } of all) {
      for (const [at] of connection.writes) perTurn.set(at, (perTurn.get(at) ?? 0) + 1);
      const text = connection.writes.map(([, t]) => t).join("");
      expect(text).toBe(`${[0, 1, 2].map((n) => `id: 1-${n}\ndata: ${n}\n\n`).join("")}`);
    }
    expect(Math.max(...perTurn.values())).toBe(200);
  });

  it("with K = Infinity, writes to every session in the turn of the broadcast", async () => {
    const { all, turns, broadcast } = fanOut(1_050, Number.POSITIVE_INFINITY);
    broadcast(frame(0));
    await tick();
    expect(all.every(({ connection }) => connection.writes.length === 1)).toBe(true);
    expect(turns).toHaveLength(0);
  });

  it("while a session waits for its slice, new events join its batch: a producer faster than the fan-out makes bigger writes, not more", async () => {
    const { all, turns, nextTurn, broadcast } = fanOut(5_000, 100);
    broadcast(frame(0));
    await tick();
    for (let i = 1; i < 400; i++) {
      broadcast(frame(i));
      nextTurn();
    }
    while (turns.length > 0) nextTurn();
    for (const { connection } of all) expect(connection.writes.map(([, t]) => t).join("")).toContain("data: 399\n");
    expect(all[4_999]?.connection.writes.length).toBeLessThan(400);
  });
});
