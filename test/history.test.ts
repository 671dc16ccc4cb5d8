import { describe, expect, it } from "vitest";
import { History } from "../src/history/History.js";
import { EventIdGenerator, formatEventId } from "../src/ids.js";

function filled(size: number, count: number, options: { maxAge?: number; now?: () => number } = {}) {
  let clock = 1_000_000;
  const ids = new EventIdGenerator(() => clock);
  const history = new History(size, { maxAge: options.maxAge, now: options.now ?? (() => clock), ids });
  const issued = Array.from({ length: count }, (_, i) => {
    clock += 1;
    const id = ids.next();
    history.append(id, Buffer.from(`e${i}`));
    return formatEventId(id);
  });
  return { history, ids, issued, tick: (ms: number) => (clock += ms) };
}

describe("History", () => {
  it("replays every retained event after the given id, oldest first", () => {
    const { history, issued } = filled(10, 5);
    const result = history.after(issued[1] as string);
    expect(result.ok && result.entries.map((e) => e.frame.toString())).toEqual(["e2", "e3", "e4"]);
  });

  it("replays nothing, without a gap, after the newest id", () => {
    const { history, issued } = filled(10, 5);
    expect(history.after(issued[4] as string)).toEqual({ ok: true, entries: [] });
  });

  it("keeps only historySize entries and reports a gap below the window", () => {
    const { history, issued } = filled(3, 6);
    expect(history.length).toBe(3);
    expect(history.after(issued[0] as string)).toEqual({ ok: false, reason: "too-old" });
    expect(history.after(issued[1] as string)).toEqual({ ok: false, reason: "too-old" });
    // issued[2] was dropped, but nothing after it was: e3..e5 are all still here.
    const result = history.after(issued[2] as string);
    expect(result.ok && result.entries.map((e) => e.frame.toString())).toEqual(["e3", "e4", "e5"]);
  });

  it("completeAfter is the floor until the ring drops an event, then the newest id dropped", () => {
    let clock = 1_000_000;
    const ids = new EventIdGenerator(() => clock);
    const floor = ids.next();
    const history = new History(2, { ids, now: () => clock, floor });
    expect(history.completeAfter).toEqual(floor);
    const appended = [1, 2, 3].map((i) => {
      clock += 1;
      const id = ids.next();
      history.append(id, Buffer.from(`e${i}`));
      return id;
    });
    expect(history.completeAfter).toEqual(appended[0]);
    expect(history.after(history.completeAfter).ok).toBe(true);
  });

  it("accepts an id that belongs to another source, replaying what came after it", () => {
    const { history, issued } = filled(10, 4);
    const [a, b] = (issued[1] as string).split("-").map(Number) as [number, number];
    // An id issued between e1 and e2 by some other channel.
    const between = `${a}-${b + 1}`;
    const result = history.after(between);
    expect(result.ok && result.entries.map((e) => e.frame.toString())).toEqual(["e2", "e3"]);
  });

  it.each(["", "abc", "1-", "-1", "1-2-3", "1.5-0", "x".repeat(10_000), `${"9".repeat(20)}-0`])(
    "reports %j as malformed",
    (id) => {
      const { history } = filled(10, 3);
      expect(history.after(id)).toEqual({ ok: false, reason: "malformed" });
    },
  );

  it("reports an id newer than anything issued as unknown, and one from before the process as too-old", () => {
    const { history, ids } = filled(10, 3);
    expect(history.after(`${ids.last.ms + 1000}-0`)).toEqual({ ok: false, reason: "unknown" });
    expect(history.after(`${ids.floor.ms - 1}-7`)).toEqual({ ok: false, reason: "too-old" });
  });

  it("reports an id below what was issued before the history was created as too-old: an earlier history may have held the events after it", () => {
    let clock = 1_000_000;
    const ids = new EventIdGenerator(() => clock);
    const seen = formatEventId(ids.next());
    const lostWithAnEarlierHistory = formatEventId(ids.next());
    clock += 1;
    const history = new History(10, { ids });
    clock += 1;
    const id = ids.next();
    history.append(id, Buffer.from("e"));
    expect(history.after(seen)).toEqual({ ok: false, reason: "too-old" });
    // From the newest id issued before it existed, this history holds everything.
    const result = history.after(lostWithAnEarlierHistory);
    expect(result.ok && result.entries.map((e) => e.frame.toString())).toEqual(["e"]);
  });

  it("drops entries older than maxAge and then reports a gap below them", () => {
    const { history, issued, tick } = filled(100, 4, { maxAge: 50 });
    tick(200);
    expect(history.length).toBe(0);
    expect(history.after(issued[0] as string)).toEqual({ ok: false, reason: "too-old" });
    expect(history.after(issued[3] as string)).toEqual({ ok: true, entries: [] });
  });

  it("returns the newest n entries", () => {
    const { history } = filled(5, 8);
    expect(history.last(2).map((e) => e.frame.toString())).toEqual(["e6", "e7"]);
    expect(history.last(50).map((e) => e.frame.toString())).toEqual(["e3", "e4", "e5", "e6", "e7"]);
  });

  it("grows its ring past the initial capacity without losing order", () => {
    const { history } = filled(1000, 700);
    expect(history.length).toBe(700);
    expect(history.last(3).map((e) => e.frame.toString())).toEqual(["e697", "e698", "e699"]);
  });
});

describe("History memory", () => {
  it("keeps its own copy of each frame, never a slice of Node's shared pool", () => {
    let clock = 1_000_000;
    const ids = new EventIdGenerator(() => clock);
    const history = new History(10, { ids });
    const before = formatEventId(ids.last);
    const frame = Buffer.from("id: x\ndata: pooled\n\n");
    // A short Buffer.from(string) is a slice of an 8 KiB pool slab shared with unrelated buffers.
    expect(frame.buffer.byteLength).toBeGreaterThan(frame.length);
    clock += 1;
    const id = ids.next();
    history.append(id, frame);
    frame.fill(0);
    const result = history.after(before);
    const kept = result.ok ? result.entries[0]?.frame : undefined;
    expect(kept?.toString()).toBe("id: x\ndata: pooled\n\n");
    expect(kept?.buffer).not.toBe(frame.buffer);
  });

  it("hands out frames that stay intact while the ring wraps many times over", () => {
    const { history, issued } = filled(5, 5);
    const replay = history.after(issued[0] as string);
    const before = replay.ok ? replay.entries.map((e) => e.frame.toString()) : [];
    let clock = 2_000_000;
    const ids = new EventIdGenerator(() => clock);
    for (let i = 0; i < 2_000; i++) {
      clock += 1;
      history.append(ids.next(), Buffer.from(`later ${i} ${"y".repeat(i % 300)}`));
    }
    expect(replay.ok && replay.entries.map((e) => e.frame.toString())).toEqual(before);
    expect(before).toEqual(["e1", "e2", "e3", "e4"]);
  });

  it("gives concurrent replays the same entries", () => {
    const { history, issued } = filled(10, 6);
    const a = history.after(issued[1] as string);
    const b = history.after(issued[3] as string);
    expect(a.ok && b.ok && a.entries.slice(2)).toEqual(b.ok && b.entries);
    expect(a.ok && b.ok && a.entries[2] === b.entries[0]).toBe(true);
  });
});
