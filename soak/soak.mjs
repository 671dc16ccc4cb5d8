// npm run soak [-- --minutes=2]: a bounded, self-stopping mix of everything a long-running server meets: clients that
// connect and leave, healthy clients that come back with their Last-Event-ID, bursts, stuck clients, broadcastSome with
// predicates, and server-side closes. Every 10 s it prints the server's RSS, heap, open handles and event-loop delay
// (p50, p99, max); at the end it checks that every healthy client has every tick, once, in order.
import { fork } from "node:child_process";
import http from "node:http";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { BroadcastStream, metrics, Session } from "event-flare";

const arg = (name, fallback) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
const minutes = arg("minutes", 2);
const HEALTHY = arg("healthy", 100);
const STUCK = arg("stuck", 5);
const CHURN = arg("churn", 40);

// Enough history for a client away a few seconds; full after about two minutes, so memory is flat from then on.
const ticks = new BroadcastStream("soak", { historySize: 5_000 });
const sessions = new Set();
const stuckLifetimes = []; // how long each stuck client held its session before it was dropped as slow-consumer
const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  const session = new Session(req, res, { sessionId: url.searchParams.get("sid"), retryInterval: 200 });
  sessions.add(session);
  const stuck = url.searchParams.get("stuck");
  const opened = Date.now();
  session.once("session-closed", ({ reason }) => {
    sessions.delete(session);
    if (stuck === null) return;
    if (reason === "slow-consumer") stuckLifetimes.push(Date.now() - opened);
    // A stuck client never reads, so it never sees its socket close: tell it, and it comes back as a new stuck client.
    // (With a callback, a message sent after the clients' process has gone is dropped instead of thrown.)
    if (clients.connected) clients.send({ type: "stuck-dropped", stuck }, () => {});
  });
  ticks.register(session);
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${server.address().port}`;

let seq = 0;
const tick = (padding = "") => ticks.broadcastAll(`${seq++}${padding}`, "tick");
const kilobyte = ` ${"x".repeat(1023)}`;
const timers = [
  setInterval(tick, 50), // steady ticks
  setInterval(() => {
    for (let i = 0; i < 1000; i++) tick(kilobyte); // a 1 MiB burst, in one turn
  }, 10_000),
  setInterval(() => {
    const even = (s) => /[02468]$/.test(s.getSessionId());
    ticks.broadcastSome(JSON.stringify({ at: Date.now() }), even, "note");
  }, 1_000),
  setInterval(() => {
    const list = [...sessions];
    list[Math.floor(Math.random() * list.length)]?.close(); // a server-side close; the client comes back
  }, 2_000),
];

const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
const mib = (n) => (n / 1024 / 1024).toFixed(1);
const samples = [];
const started = Date.now();
const report = setInterval(() => {
  // Live memory, not garbage waiting for the collector: a leak shows as growth here.
  globalThis.gc?.();
  const m = process.memoryUsage();
  const sample = {
    t: Math.round((Date.now() - started) / 1000),
    rss: m.rss,
    heap: m.heapUsed,
    handles: process.getActiveResourcesInfo().length,
    p50: delay.percentile(50) / 1e6,
    p99: delay.percentile(99) / 1e6,
    max: delay.max / 1e6,
    open: metrics().openSessions,
  };
  samples.push(sample);
  delay.reset();
  console.log(
    `t=${sample.t}s rss ${mib(sample.rss)} MiB heap ${mib(sample.heap)} MiB handles ${sample.handles} ` +
      `loop p50 ${sample.p50.toFixed(1)} p99 ${sample.p99.toFixed(1)} max ${sample.max.toFixed(1)} ms, ` +
      `${sample.open} sessions open, ${seq} ticks`,
  );
}, 10_000);

const clients = fork(fileURLToPath(new URL("./clients.mjs", import.meta.url)), [], {
  env: {
    ...process.env,
    URL_BASE: base,
    HEALTHY: String(HEALTHY),
    CHURN_PER_SECOND: String(CHURN),
    STUCK: String(STUCK),
  },
});
const next = (type) =>
  new Promise((resolve) =>
    clients.on("message", function on(m) {
      if (m.type === type) {
        clients.off("message", on);
        resolve(m);
      }
    }),
  );
await next("started");
console.log(`soak: ${minutes} min, ${HEALTHY} healthy clients, ${CHURN} churning connects/s, ${STUCK} stuck clients`);

await new Promise((resolve) => setTimeout(resolve, minutes * 60_000));
for (const timer of timers) clearInterval(timer);
clients.send({ type: "stop" });
const last = seq;
// Every healthy client must reach the last tick.
let result;
for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
  await new Promise((resolve) => setTimeout(resolve, 500));
  clients.send({ type: "report" });
  result = await next("report");
  if (result.clients.every((c) => c.next === last)) break;
}
clearInterval(report);
const incomplete = result.clients.filter((c) => c.next !== last || c.problems.length > 0);
const m = metrics();
const steady = samples.slice(1);
const spread = (key) =>
  steady.length === 0 ? 0 : Math.max(...steady.map((s) => s[key])) - Math.min(...steady.map((s) => s[key]));
console.log(
  `\nsoak done: ${last} ticks; ${result.clients.length - incomplete.length}/${result.clients.length} healthy clients ` +
    `complete (${result.clients.reduce((n, c) => n + c.reconnects, 0)} reconnects of their own); ` +
    `sessions opened ${m.sessionsOpened}, closed ${JSON.stringify(m.sessionsClosed)}; ` +
    `RSS spread after the first sample ${mib(spread("rss"))} MiB, heap spread ${mib(spread("heap"))} MiB; ` +
    `worst p99 loop delay ${Math.max(...samples.map((s) => s.p99)).toFixed(1)} ms`,
);
const lifetimes = stuckLifetimes.sort((a, b) => a - b);
console.log(
  `stuck clients dropped as slow-consumer: ${lifetimes.length}, after ` +
    `${((lifetimes[Math.floor(lifetimes.length / 2)] ?? 0) / 1000).toFixed(1)} s (median), ` +
    `${((lifetimes.at(-1) ?? 0) / 1000).toFixed(1)} s (longest)`,
);
for (const c of incomplete.slice(0, 5)) console.log(`incomplete: ${c.sid} at ${c.next}: ${c.problems.join("; ")}`);
clients.kill();
server.closeAllConnections();
server.close();
for (const session of sessions) session.close();
ticks.close();
process.exitCode = incomplete.length === 0 ? 0 : 1;
