import { EventSource } from "eventsource";
import { afterEach, describe, expect, it } from "vitest";
import { type RunningExample, startExample } from "./helpers/exampleProcess.js";

// Examples import "event-flare" itself, so they run against the built package (npm test builds first).
let running: RunningExample | undefined;
let source: EventSource | undefined;

afterEach(async () => {
  source?.close();
  source = undefined;
  await running?.stop();
  running = undefined;
});

/** Opens the stream with the real eventsource client and resolves with the first event of type `type`. */
function firstEvent(url: string, type = "message"): Promise<MessageEvent> {
  return new Promise((resolve, reject) => {
    source = new EventSource(url);
    source.addEventListener(type, (event) => resolve(event as MessageEvent));
    source.onerror = (error) =>
      reject(new Error(`EventSource error: ${String((error as { message?: string }).message)}`));
  });
}

const snapshot = { stockName: "AAPL", currentStockPrice: "245.65" };

describe("examples", () => {
  it("node-http sends the seed snapshot, then time events", async () => {
    running = await startExample("node-http");
    const event = await firstEvent(running.url);
    expect(JSON.parse(event.data)).toEqual(snapshot);
    expect(event.lastEventId).toMatch(/^\d+-\d+$/);
    const time = await new Promise<MessageEvent>((resolve) =>
      source?.addEventListener("time", (e) => resolve(e as MessageEvent)),
    );
    expect(Number.isNaN(Date.parse(time.data))).toBe(false);
  });

  it("express sends a named event", async () => {
    running = await startExample("express");
    const event = await firstEvent(running.url, "AAPL-stock-price");
    expect(JSON.parse(event.data)).toEqual(snapshot);
  });

  it("koa sends the seed snapshot through ctx.respond = false", async () => {
    running = await startExample("koa");
    const event = await firstEvent(running.url);
    expect(JSON.parse(event.data)).toEqual(snapshot);
  });

  it("broadcast sends broadcastAll to everyone and broadcastSome only to pro sessions", async () => {
    running = await startExample("broadcast");
    const free = new EventSource(`${running.url}/?plan=free`);
    const pro = new EventSource(`${running.url}/?plan=pro`);
    const seen = { free: [] as string[], pro: [] as string[] };
    try {
      for (const [name, es] of [
        ["free", free],
        ["pro", pro],
      ] as const) {
        es.onmessage = () => seen[name].push("message");
        es.addEventListener("depth", () => seen[name].push("depth"));
      }
      await new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if (seen.pro.includes("depth") && seen.free.filter((t) => t === "message").length >= 2) {
            clearInterval(check);
            resolve();
          }
        }, 20);
      });
      expect(seen.free).not.toContain("depth");
      expect(seen.pro).toContain("message");
    } finally {
      free.close();
      pro.close();
    }
  });

  it("stock-ticker serves its page and streams prices", async () => {
    running = await startExample("stock-ticker");
    const page = await fetch(running.url);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await page.text()).toContain('"event-flare/client": "/event-flare/client/index.js"');
    const event = await firstEvent(`${running.url}/prices?tab=t1`, "price");
    const tick = JSON.parse(event.data) as { symbol: string; price: number; seq: number };
    expect(tick.symbol).toMatch(/^[A-Z]+$/);
    expect(tick.price).toBeGreaterThan(0);
    expect(Number.isInteger(tick.seq)).toBe(true);
  });
});
