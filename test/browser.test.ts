/// <reference lib="dom" />
import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BroadcastStream, Session } from "../src/index.js";
import { chromiumAvailable, launchChromium } from "./helpers/browser.js";
import { startServer, type TestServer, waitFor } from "./helpers/server.js";

const available = chromiumAvailable();
let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;

beforeAll(async () => {
  if (available) browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

describe.runIf(available)("in real Chromium", () => {
  it("event-source-polyfill resumes through the lastEventId query after server-side drops, losing nothing", async () => {
    const polyfill = readFileSync(
      createRequire(import.meta.url).resolve("event-source-polyfill/src/eventsource.min.js"),
    );
    const channel = new BroadcastStream("polyfill", { historySize: 1000 });
    const streams: IncomingMessage[] = [];
    const urls: string[] = [];
    const server: TestServer = await startServer((req, res) => {
      if (req.url === "/") {
        res.writeHead(200, { "Content-Type": "text/html" }).end(`<!doctype html><script src="/polyfill.js"></script>
<script>
  window.received = [];
  const source = new EventSourcePolyfill("/events");
  source.addEventListener("tick", (event) => window.received.push(event.data));
</script>`);
      } else if (req.url === "/polyfill.js") {
        res.writeHead(200, { "Content-Type": "text/javascript" }).end(polyfill);
      } else if (req.url?.startsWith("/events")) {
        urls.push(req.url ?? "");
        streams.push(req);
        channel.register(new Session(req, res, { retryInterval: 20 }));
      } else {
        res.writeHead(404).end();
      }
    });
    const page = await (browser as NonNullable<typeof browser>).context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    try {
      await page.goto(server.url);
      await waitFor(() => channel.getActiveConnections() === 1, `the polyfill to connect (${pageErrors})`, 15_000);
      const TOTAL = 200;
      for (let i = 0; i < TOTAL; i++) {
        channel.broadcastAll(String(i), "tick");
        // Every 40 events, drop the stream from the server side while events may still be in flight.
        if (i % 40 === 39) streams.at(-1)?.socket.destroy();
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      await page.waitForFunction((n) => (window as unknown as { received: string[] }).received.length >= n, TOTAL, {
        timeout: 30_000,
      });
      const received = await page.evaluate(() => (window as unknown as { received: string[] }).received);
      expect(received).toEqual(Array.from({ length: TOTAL }, (_, i) => String(i)));
      expect(urls.length).toBeGreaterThan(1);
      expect(urls.slice(1).every((url) => /[?&]lastEventId=\d+-\d+/.test(url))).toBe(true);
    } finally {
      await page.close();
      await server.close();
    }
  });
});
