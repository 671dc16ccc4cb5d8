import { EventSource } from "eventsource";
import { afterEach, expect, it } from "vitest";
import { type RunningExample, startExample } from "./helpers/exampleProcess.js";
import { waitFor } from "./helpers/server.js";

// The example imports "event-flare" itself, so it runs against the built package (npm test builds first).
let running: RunningExample | undefined;
const sources: EventSource[] = [];
afterEach(async () => {
  for (const source of sources.splice(0)) source.close();
  await running?.stop();
  running = undefined;
});

/** The value of one sample of the Prometheus text, by its name and labels as written. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

it("examples/operations: /metrics in Prometheus format has exact counts after a scripted run", async () => {
  running = await startExample("operations");
  const received: string[][] = [[], [], []];
  for (const list of received) {
    const source = new EventSource(`${running.url}/events`);
    sources.push(source);
    source.onmessage = (event) => list.push(event.data);
  }
  const scrape = async () => (await fetch(`${running?.url}/metrics`)).text();
  for (let tries = 0; sample(await scrape(), "event_flare_sessions_open") !== 3 && tries < 100; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await fetch(`${running.url}/publish?n=5`, { method: "POST" });
  await waitFor(() => received.every((list) => list.length === 5), "5 events at each client");
  sources[0]?.close();
  let text = await scrape();
  for (let tries = 0; sample(text, "event_flare_sessions_open") !== 2 && tries < 100; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    text = await scrape();
  }
  expect(sample(text, "event_flare_sessions_open")).toBe(2);
  expect(sample(text, "event_flare_sessions_opened_total")).toBe(3);
  expect(sample(text, 'event_flare_sessions_closed_total{reason="client-disconnect"}')).toBe(1);
  expect(sample(text, 'event_flare_sessions_closed_total{reason="slow-consumer"}')).toBe(0);
  expect(sample(text, "event_flare_events_written_total")).toBe(15);
  expect(sample(text, "event_flare_events_replayed_total")).toBe(0);
  expect(sample(text, "event_flare_gap_signals_total")).toBe(0);
  expect(sample(text, 'event_flare_channel_members{channel="news"}')).toBe(2);
  expect(text).toContain("# TYPE event_flare_events_written_total counter");
});

it("examples/operations: SIGTERM ends every stream with a retry hint, and the process exits by itself", async () => {
  running = await startExample("operations");
  const { connectRaw } = await import("./helpers/rawClient.js");
  const client = await connectRaw(`${running.url}/events`);
  await fetch(`${running.url}/publish?n=2`, { method: "POST" });
  await client.waitForEvents(2);
  const exited = new Promise<number | null>((resolve) => running?.child.once("exit", (code) => resolve(code)));
  running.child.kill("SIGTERM");
  await client.waitForEnd();
  expect(client.retries.at(-1)).toBe(1000);
  expect(await exited).toBe(0);
  expect(running.output()).toContain("every session closed");
  running = undefined;
});
