/// <reference lib="dom" />
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumAvailable, launchChromium } from "./helpers/browser.js";
import { type RunningExample, startExample } from "./helpers/exampleProcess.js";

// The `npm start` demo in real Chromium: the page loads event-flare/client as ES modules from dist/, shows prices,
// and after three server-side drops has received every tick id once, with no gap and no duplicate; then the same
// through event-source-polyfill at /?polyfill. Screenshots go to this test's temp dir (kept with
// EVENT_FLARE_KEEP_SCREENSHOTS=1).
const available = chromiumAvailable();
let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
let demo: RunningExample | undefined;
let shots: string;

beforeAll(async () => {
  shots = mkdtempSync(join(tmpdir(), "event-flare-demo-"));
  if (!available) return;
  browser = await launchChromium();
  // Quick ticks and reconnects, so three drops take seconds; the page and the server code are the `npm start` ones.
  demo = await startExample("stock-ticker", { TICK_MS: "50", RETRY_MS: "200" });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await demo?.stop();
  if (process.env.EVENT_FLARE_KEEP_SCREENSHOTS === "1") console.log(`demo screenshots kept in ${shots}`);
  else rmSync(shots, { recursive: true, force: true });
});

interface DemoState {
  state: string;
  ids: string[];
  seqs: number[];
  reconnects: number;
  replayedTotal: number;
  hellos: number;
}
const read = (page: Page) => page.evaluate(() => (window as unknown as { demo: DemoState }).demo);
const prices = (page: Page) => page.$$eval("#rows tr td.price", (cells) => cells.map((c) => c.textContent ?? ""));

/**
 * Chromium reports a response cut short as a console error, "Failed to load resource:
 * net::ERR_INCOMPLETE_CHUNKED_ENCODING": that is the drop the test asks for, on the event stream. Any other console
 * error, page error or failed request fails the test.
 */
function watchConsole(page: Page): { unexpected: string[]; drops: number } {
  const seen = { unexpected: [] as string[], drops: 0 };
  const isDrop = (text: string) => text.includes("net::ERR_INCOMPLETE_CHUNKED_ENCODING");
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    if (isDrop(message.text())) seen.drops += 1;
    else seen.unexpected.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => seen.unexpected.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) => {
    const failure = request.failure()?.errorText ?? "";
    if (!(new URL(request.url()).pathname === "/prices" && isDrop(failure))) {
      seen.unexpected.push(`request failed: ${request.url()} ${failure}`);
    }
  });
  return seen;
}

describe.runIf(available)("the npm start demo in real Chromium", () => {
  it.each([
    ["/", "EventSource"],
    ["/?polyfill", "event-source-polyfill"],
  ])("%s: live prices, three drops, every tick id once (through %s)", async (path, view) => {
    const running = demo as RunningExample;
    const page = await (browser as NonNullable<typeof browser>).context.newPage();
    const watched = watchConsole(page);
    try {
      await page.goto(`${running.url}${path}`);
      await page.waitForFunction(() => document.querySelectorAll("#rows tr").length === 5, undefined, {
        timeout: 15_000,
      });
      expect(await page.textContent("#view")).toContain(view);
      expect(await page.getAttribute('link[rel="icon"]', "href")).toBe("/favicon.svg");

      // Prices change.
      const first = await prices(page);
      await page.waitForFunction((before) => {
        const now = Array.from(document.querySelectorAll("#rows tr td.price"), (c) => c.textContent);
        return now.some((text, i) => text !== before[i]);
      }, first);

      // Three drops: each time the server destroys this tab's socket, the page shows reconnecting, then live again.
      for (let drop = 1; drop <= 3; drop++) {
        await page.waitForFunction(() => (window as unknown as { demo: DemoState }).demo.hellos > 0);
        await page.click("#drop");
        await page.waitForFunction(
          (n) => {
            const d = (window as unknown as { demo: DemoState }).demo;
            return d.reconnects === n && d.hellos === n + 1 && d.state === "live";
          },
          drop,
          { timeout: 15_000 },
        );
      }
      const afterDrops = (await read(page)).seqs.length;
      await page.waitForFunction(
        (n) => (window as unknown as { demo: DemoState }).demo.seqs.length >= n + 5,
        afterDrops,
      );

      // No gap and no duplicate: the ids the page received are exactly the ids the server issued in that span.
      const seen = await read(page);
      const issued = (await (await fetch(`${running.url}/ticks`)).json()) as { seq: number; id: string }[];
      const [low, high] = [Math.min(...seen.seqs), Math.max(...seen.seqs)];
      expect(new Set(seen.ids).size).toBe(seen.ids.length);
      expect(seen.ids).toEqual(issued.filter(({ seq }) => seq >= low && seq <= high).map(({ id }) => id));
      expect(seen.seqs).toEqual(seen.seqs.map((_, i) => low + i));
      expect(seen.replayedTotal).toBeGreaterThan(0); // ticks went out while the page was away, and came back
      expect(await page.textContent("#missing")).toBe("0 · 0");
      expect(Number(await page.textContent("#received"))).toBeGreaterThanOrEqual(seen.ids.length - 5);

      const shot = join(shots, `stock-ticker${path === "/" ? "" : "-polyfill"}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(0);
      expect(watched.unexpected).toEqual([]);
      expect(watched.drops).toBeLessThanOrEqual(3);
    } finally {
      await page.close();
    }
  });

  it("the browser's own EventSource: a refused stream errors with a typed code, named by one probe", async () => {
    const running = demo as RunningExample;
    const page = await (browser as NonNullable<typeof browser>).context.newPage();
    try {
      await page.goto(running.url);
      // A string, so the test runner leaves the page's dynamic import alone; the page's import map resolves it.
      const codes = await page.evaluate(`(async () => {
        const { fromEventSource } = await import("event-flare/client");
        const codeOf = (url) =>
          new Promise((resolve) => fromEventSource(url).subscribe({ error: (error) => resolve(error.code) }));
        return { missing: await codeOf("/no-such-stream"), html: await codeOf("/index.html") };
      })()`);
      expect(codes).toEqual({ missing: "CLIENT_HTTP_STATUS", html: "CLIENT_CONTENT_TYPE" });
    } finally {
      await page.close();
    }
  });

  it("serves the favicon, the client from dist/ and rxjs from node_modules", async () => {
    const running = demo as RunningExample;
    const icon = await fetch(`${running.url}/favicon.svg`);
    expect(icon.headers.get("content-type")).toBe("image/svg+xml");
    const client = await fetch(`${running.url}/event-flare/client/index.js`);
    expect(client.headers.get("content-type")).toContain("text/javascript");
    expect(await client.text()).toContain("fromEventSource");
    expect((await fetch(`${running.url}/vendor/rxjs/index.js`)).status).toBe(200);
    expect((await fetch(`${running.url}/event-flare/../../package.json`)).status).toBe(404);
  });
});
