import { asyncScheduler } from "rxjs";
import { TestScheduler } from "rxjs/testing";
import { afterEach, describe, expect, it } from "vitest";
import {
  HEARTBEAT_SLICE,
  HEARTBEAT_SLICE_GAP,
  heartbeatTimers,
  joinHeartbeat,
  leaveHeartbeat,
} from "../src/heartbeat.js";
import { resolveSessionOptions } from "../src/options.js";
import { FlushQueue } from "../src/session/flushQueue.js";
import type { OutboundFrame } from "../src/session/outboundFrame.js";
import { SessionWriter } from "../src/session/SessionWriter.js";
import { FakeConnection } from "./helpers/fakeConnection.js";

const PERIOD = 1_000;
const EVENT: OutboundFrame = { id: { ms: 1, seq: 0 }, frame: Buffer.from("id: 1-0\ndata: x\n\n") };
const isBeat = ([, text]: [number, string]) => text === ":\n";

afterEach(() => {
  expect(heartbeatTimers()).toBe(0);
});

/** `n` writers on one virtual clock, all in the heartbeat of PERIOD, flushed 1 ms after they queue. */
function writers(n: number) {
  const ts = new TestScheduler(() => {});
  ts.maxFrames = Number.POSITIVE_INFINITY;
  const queue = new FlushQueue(1, ts, Number.POSITIVE_INFINITY);
  const limits = resolveSessionOptions({ scheduler: ts });
  const all = Array.from({ length: n }, () => {
    const connection = new FakeConnection(() => ts.now());
    const writer = new SessionWriter(connection, queue, limits, { writerOverflowed: () => {} });
    joinHeartbeat(writer, PERIOD, ts);
    return { connection, writer };
  });
  const leaveAt = (at: number) =>
    ts.schedule(() => {
      for (const { writer } of all) leaveHeartbeat(writer, PERIOD, ts);
    }, at);
  return { ts, all, leaveAt };
}

describe("the shared heartbeat, in slices", () => {
  it("beats every idle session once per period, a slice of at most HEARTBEAT_SLICE sessions at a time", () => {
    const { ts, all, leaveAt } = writers(700);
    leaveAt(4 * PERIOD + 500);
    ts.flush();

    const beatsAt = new Map<number, number>();
    for (const { connection } of all) {
      const beats = connection.writes.filter(isBeat).map(([at]) => at);
      expect(beats).toHaveLength(4);
      // The first within a period plus one sweep; then exactly one period apart (a member keeps its place).
      expect(beats[0]).toBeLessThanOrEqual(PERIOD + 3 * HEARTBEAT_SLICE_GAP + 1);
      for (let i = 1; i < beats.length; i++) expect((beats[i] as number) - (beats[i - 1] as number)).toBe(PERIOD);
      for (const at of beats) beatsAt.set(at, (beatsAt.get(at) ?? 0) + 1);
    }
    // 700 sessions: slices of 256, 256 and 188, HEARTBEAT_SLICE_GAP apart, never more than a slice at one instant.
    expect(Math.max(...beatsAt.values())).toBe(HEARTBEAT_SLICE);
    expect([...beatsAt.keys()].sort((a, b) => a - b).slice(0, 3)).toEqual([
      1001,
      1001 + HEARTBEAT_SLICE_GAP,
      1001 + 2 * HEARTBEAT_SLICE_GAP,
    ]);
  });

  it("skips the heartbeat of a session that wrote within the last third of the period, and no stream stays silent for more than 4/3 of it", () => {
    const { ts, all, leaveAt } = writers(300);
    // The first 100 sessions get an event every 200 ms; the next 100 one every 1,300 ms; the rest stay idle.
    const every = (ms: number, from: number, to: number) => {
      const send = () => {
        for (const { writer } of all.slice(from, to)) writer.write(EVENT);
        ts.schedule(send, ms);
      };
      ts.schedule(send, ms);
    };
    every(200, 0, 100);
    every(1_300, 100, 200);
    leaveAt(8 * PERIOD + 500);
    ts.schedule(() => ts.actions.splice(0), 8 * PERIOD + 600);
    ts.flush();

    for (const [index, { connection }] of all.entries()) {
      const writes = connection.writes;
      if (index < 100) expect(writes.filter(isBeat)).toEqual([]);
      else if (index >= 200) expect(writes.filter(isBeat)).toHaveLength(8);
      const times = [0, ...writes.map(([at]) => at)].filter((at) => at <= 8 * PERIOD);
      for (let i = 1; i < times.length; i++) {
        expect((times[i] as number) - (times[i - 1] as number)).toBeLessThanOrEqual((4 / 3) * PERIOD + 2);
      }
    }
    // The sessions writing every 1.3 s are idle in some periods: they get some heartbeats, fewer than idle ones.
    const sparse = all[150]?.connection.writes.filter(isBeat).length ?? 0;
    expect(sparse).toBeGreaterThan(0);
    expect(sparse).toBeLessThan(8);
  });

  it("keeps one timer per period on the default scheduler, and stops a sweep in progress when the last member leaves", async () => {
    const seen: number[] = [];
    const members = Array.from({ length: 600 }, (_, i) => ({ beat: () => seen.push(i) }));
    for (const member of members) joinHeartbeat(member, 20, asyncScheduler);
    expect(heartbeatTimers()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 25));
    // The first slice ran; the next two are waiting for their turns.
    for (const member of members) leaveHeartbeat(member, 20, asyncScheduler);
    expect(heartbeatTimers()).toBe(0);
    const beaten = seen.length;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(seen.length).toBe(beaten);
  });
});
