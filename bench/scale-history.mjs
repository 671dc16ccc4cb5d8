// Memory per kept history event (a child of bench/scale.mjs): CHANNELS channels, each with EVENTS kept events of SIZE
// bytes of data, nobody registered. Full GC before and after; prints and sends (heap + arrayBuffers growth) ÷ events.
//
// argv[2] is JSON: { entry (event-flare's dist/esm/index.js), channels = 10000, events = 100, size = 100 }
import { pathToFileURL } from "node:url";
import { bindToParent, fullGc, toParent } from "./common.mjs";

const config = JSON.parse(process.argv[2]);
bindToParent("history");
const { BroadcastStream } = await import(pathToFileURL(config.entry).href);
const channels = config.channels ?? 10_000;
const events = config.events ?? 100;
const size = config.size ?? 100;

function settled() {
  fullGc();
  return process.memoryUsage();
}

// Warm the code paths on a channel that is then dropped, so the measured growth is the data.
{
  const warm = new BroadcastStream("warm");
  for (let i = 0; i < 200; i++) warm.broadcastAll(String(i).padEnd(size, "x"));
  warm.close();
}
await new Promise((resolve) => setTimeout(resolve, 50));
const before = settled();
const kept = [];
for (let c = 0; c < channels; c++) {
  const channel = new BroadcastStream(`ch-${c}`);
  // More than the history keeps: the ring is full and has dropped events, as in a long-running process.
  for (let e = 0; e < events + 20; e++) channel.broadcastAll(`${c}:${e}:`.padEnd(size, "x"));
  kept.push(channel);
}
await new Promise((resolve) => setTimeout(resolve, 50));
const after = settled();
const n = channels * events;
const per = (field) => (after[field] - before[field]) / n;
const result = {
  type: "history",
  channels,
  events,
  size,
  heapPerEvent: per("heapUsed"),
  arrayBuffersPerEvent: per("arrayBuffers"),
  externalPerEvent: per("external"),
  rssPerEvent: per("rss"),
  totalPerEvent: per("heapUsed") + per("arrayBuffers"),
  frameBytes: Buffer.byteLength(`id: 1764131040000-0\ndata: ${"x".repeat(size)}\n\n`),
  kept: kept.length,
};
toParent(result);
if (process.send === undefined) console.log(result);
process.exit(0);
