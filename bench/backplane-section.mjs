// The backplane section of `npm run bench` (run.mjs): event-flare on a Redis backplane, two nodes, against the same
// event-flare server in one process, measured side by side in the same run.
//
//   node bench/run.mjs --only=backplane      this section alone (about 1 minute, plus any wait for a quiet machine)
//   npm run bench                            the whole bench; this section runs last (skipped without redis-server)
//
// Flags (parsed by run.mjs): --bp-n=1000 clients  --bp-size=1024 payload bytes  --bp-rate=50 events/s
//   --bp-rate-events=500 (a 10 s latency cell)  --bp-burst-m=200 broadcasts per burst cell  --bp-repeats=5 burst cells
//   per set-up  --bp-storm=1000 reconnecting clients  --redis-server=PATH (default: redis-server from PATH)
//
// Processes (all children of run.mjs, CLOCK_MONOTONIC shared, so latency = receive time − time in the payload):
//   redis-server   a private one on a free 127.0.0.1 port, in a temp dir, --save "" --appendonly no
//   single         server.mjs (event-flare, no backplane) + two client.mjs children of N/2 connections each
//   two-node       server.mjs node A and node B (event-flare on the backplane), client.mjs children a → A (N/2) and
//                  b → B (N/2); node A publishes, so the clients on B measure the cross-node path
// Both set-ups are connected at once (idle ones cost nothing) and their cells alternate. Paces:
//   rate   --bp-rate broadcasts/s on a fixed schedule (latency p50/p99/max; events/s only reflects the pace)
//   burst  --bp-burst-m broadcasts in one synchronous loop, the same publisher code for both set-ups: on the
//          backplane every broadcastAll is an EVALSHA in flight at once (node-redis writes them as one pipeline) and
//          its promise is awaited only at the end (tAcked), so the publisher never waits for Redis between events
// Reconnect storm: after the cells, every client leaves; node A (channel historySize 100, the default) publishes 250
// events, a fresh node C (channel historySize 20) starts, and --bp-storm clients connect to it at once, each with the
// Last-Event-ID of the 6th-oldest event still in the stream: older than C's ring, so the replay must come from Redis.
// Redis commands per reconnect = INFO commandstats delta (commands run inside scripts included, the bench's own INFO
// excluded) / reconnects; replay reads = node C's calls of the replay script (counted in the node) and EVALSHA calls.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Histogram, median } from "./common.mjs";

export const BACKPLANE_FLAGS = [
  "bp-n",
  "bp-size",
  "bp-rate",
  "bp-rate-events",
  "bp-burst-m",
  "bp-repeats",
  "bp-storm",
  "redis-server",
];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const fmt = (v, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : "–");
const fmtInt = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "–");
const ms = (us) => fmt(us / 1000);
const x = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : "–");

/** The redis-server to start, or undefined when there is none (the section is then skipped). */
export function findRedisServer(args) {
  const name = args["redis-server"] ?? "redis-server";
  if (name.includes("/")) return name;
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const full = path.join(dir, name);
    try {
      if (statSync(full).isFile()) return full;
    } catch {}
  }
  return undefined;
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

/** A private redis-server: started, connected to (admin client), stopped and its directory removed. */
async function startRedis(binary, log) {
  const { createClient } = await import("redis");
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), "ef-bench-redis-"));
  const argv = ["--port", `${port}`, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir];
  const proc = spawn(binary, argv, { stdio: "ignore" });
  const exited = once(proc, "exit");
  const kill = () => {
    try {
      proc.kill("SIGKILL");
    } catch {}
    rmSync(dir, { recursive: true, force: true });
  };
  process.on("exit", kill);
  const url = `redis://127.0.0.1:${port}`;
  let admin;
  for (let attempt = 0; admin === undefined; attempt++) {
    await sleep(100);
    if (proc.exitCode !== null) throw new Error(`redis-server exited at once (code ${proc.exitCode})`);
    const client = createClient({ url, RESP: 2, socket: { reconnectStrategy: false } });
    client.on("error", () => {});
    try {
      await client.connect();
      admin = client;
    } catch (error) {
      if (attempt > 50) throw new Error(`redis-server did not accept connections in 5 s: ${error.message}`);
    }
  }
  admin.on("error", (error) => log(`redis admin connection: ${error.message}`));
  const info = (section) => admin.sendCommand(["INFO", section]);
  const version = /redis_version:(\S+)/.exec(await info("server"))[1];
  return {
    url,
    version,
    admin,
    /** Redis's CPU time so far, µs (main and background threads). */
    async cpuUs() {
      const text = await info("cpu");
      const field = (name) => Number(new RegExp(`${name}:([\\d.]+)`).exec(text)[1]);
      return (field("used_cpu_user") + field("used_cpu_sys")) * 1e6;
    },
    /** Calls per command so far (INFO commandstats), commands run inside scripts included. */
    async commandCalls() {
      const out = {};
      for (const m of (await info("commandstats")).matchAll(/cmdstat_([^:]+):calls=(\d+)/g)) out[m[1]] = Number(m[2]);
      return out;
    },
    async stop() {
      await admin.close().catch(() => {});
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      process.off("exit", kill);
    },
  };
}

/**
 * One set-up: its server children (the first publishes) and client children (each bound to one server), all open.
 * `seq` is the next event number; every client of the set-up sees every event.
 */
class Setup {
  constructor(ctx, key, label) {
    this.ctx = ctx;
    this.key = key;
    this.label = label;
    this.servers = [];
    this.clients = [];
    this.seq = 0;
  }

  async addServer(name, config) {
    const { Child, step } = this.ctx;
    const child = new Child(`${this.key} ${name}`, "server.mjs", config);
    const { port } = await step(child.next("listening", 30_000));
    const server = { name, child, port, clients: 0 };
    this.servers.push(server);
    return server;
  }

  /** Opens `n` connections to `server` from one client child. */
  async addClient(name, server, n, extra = {}) {
    const { Child, step, connectTimeoutMs } = this.ctx;
    const child = new Child(`${this.key} client ${name}`, "client.mjs", {
      port: server.port,
      n,
      histogram: true,
      ...extra,
    });
    const client = { name, child, server, n };
    this.clients.push(client);
    server.clients += n;
    server.child.send({ cmd: "wait-clients", n: server.clients });
    const [connected] = await step(
      Promise.all([child.next("connected", connectTimeoutMs), server.child.next("clients", connectTimeoutMs)]),
    );
    return { client, connected };
  }

  get n() {
    return this.clients.reduce((sum, c) => sum + c.n, 0);
  }

  /** Broadcasts m events of `size` bytes from the first server at `pace`; resolves when every client has them all. */
  async runCell(m, size, pace, intervalMs, redis) {
    const { step, procStat, cellTimeoutMs } = this.ctx;
    const [publisher] = this.servers;
    for (const s of this.servers) s.child.send({ cmd: "prepare" });
    await step(Promise.all(this.servers.map((s) => s.child.next("prepared", 60_000))));
    for (const s of this.servers.slice(1)) s.child.send({ cmd: "mark" });
    await step(Promise.all(this.servers.slice(1).map((s) => s.child.next("marked", 10_000))));
    for (const c of this.clients) c.child.send({ cmd: "expect", seqStart: this.seq, m, size });
    await step(Promise.all(this.clients.map((c) => c.child.next("armed", 60_000))));
    const redisCpu0 = await redis.cpuUs();
    const stat0 = procStat();
    const wall0 = Date.now();
    publisher.child.send({ cmd: "run", seqStart: this.seq, m, size, pace, intervalMs });
    let broadcast;
    let done;
    try {
      [broadcast, ...done] = await step(
        Promise.all([
          publisher.child.next("broadcast-done", cellTimeoutMs),
          ...this.clients.map((c) => c.child.next("cell-done", cellTimeoutMs)),
        ]),
      );
    } catch (error) {
      if (!/within/.test(error.message)) throw error;
      const status = await Promise.all(
        this.clients.map((c) => {
          c.child.send({ cmd: "status" });
          return c.child.next("status", 5000).catch(() => undefined);
        }),
      );
      throw new Error(`${error.message}; client status: ${JSON.stringify(status)}`);
    }
    for (const s of this.servers) s.child.send({ cmd: "cpu" });
    const cpus = await step(Promise.all(this.servers.map((s) => s.child.next("cpu", 30_000))));
    const stat1 = procStat();
    const redisCpuUs = (await redis.cpuUs()) - redisCpu0;
    const windowUs = (Date.now() - wall0) * 1000;
    this.seq += m;
    const events = this.n * m;
    const counted = done.reduce((sum, d) => sum + d.events, 0);
    if (counted !== events) throw new Error(`${this.key}: ${counted} events counted, expected ${events}`);
    const tLast = Math.max(...done.map((d) => d.tLast));
    const elapsedUs = tLast - broadcast.t0;
    const all = new Histogram();
    for (const d of done) all.merge(d.histogram);
    const serverCpuUs = cpus.reduce((sum, c) => sum + c.user + c.system, 0);
    const clientCpuUs = done.reduce((sum, d) => sum + d.clientCpuUs, 0);
    const haveStat = stat0 !== undefined && stat1 !== undefined;
    const irqUs = haveStat ? stat1.irq - stat0.irq : 0;
    const foreignUs = haveStat ? stat1.busy - stat0.busy - irqUs - serverCpuUs - clientCpuUs - redisCpuUs : 0;
    return {
      setup: this.key,
      pace,
      m,
      size,
      n: this.n,
      events,
      elapsedUs,
      eventsPerSec: events / (elapsedUs / 1e6),
      publishAckedUs: broadcast.tAcked !== undefined ? broadcast.tAcked - broadcast.t0 : undefined,
      latency: all.summary(),
      bySide: Object.fromEntries(this.clients.map((c, i) => [c.name, done[i].latency])),
      serverCpuUs,
      serverCpuPer1k: serverCpuUs / (events / 1000),
      serverCpuByNode: Object.fromEntries(this.servers.map((s, i) => [s.name, cpus[i].user + cpus[i].system])),
      redisCpuUs,
      redisCpuPer1k: redisCpuUs / (events / 1000),
      clientCpuUs,
      foreignCores: Math.max(0, foreignUs) / Math.max(windowUs, 1),
    };
  }

  async verify() {
    const { step } = this.ctx;
    for (const c of this.clients) c.child.send({ cmd: "verify", total: this.seq });
    const results = await step(Promise.all(this.clients.map((c) => c.child.next("verified", 30_000))));
    results.forEach((r, i) => {
      if (!r.ok) throw new Error(`${this.key} client ${this.clients[i].name}: ${r.errors.join("; ")}`);
    });
  }

  async closeClients() {
    for (const c of this.clients.splice(0)) await c.child.stop();
    for (const s of this.servers) s.clients = 0;
  }

  async close() {
    await this.closeClients();
    for (const s of this.servers.splice(0)) await s.child.stop();
  }
}

/** Runs the section; returns { settings, redisVersion, cells, summary, storm, targets } for the JSON and markdown. */
export async function backplaneSection(ctx) {
  const { args, log, pkg } = ctx;
  // Time spent waiting for a quiet machine is reported apart from the section's own run time.
  let waitedMs = 0;
  const waitForQuiet = async (context) => {
    const t = Date.now();
    await ctx.waitForQuiet(context);
    waitedMs += Date.now() - t;
  };
  const binary = findRedisServer(args);
  if (binary === undefined) {
    log("backplane section skipped: no redis-server on PATH (or give --redis-server=PATH)");
    return { skipped: "no redis-server on PATH" };
  }
  const settings = {
    n: Number(args["bp-n"] ?? 1000),
    size: Number(args["bp-size"] ?? 1024),
    rate: Number(args["bp-rate"] ?? 50),
    rateEvents: Number(args["bp-rate-events"] ?? 500),
    burstM: Number(args["bp-burst-m"] ?? 200),
    repeats: Number(args["bp-repeats"] ?? 5),
    storm: Number(args["bp-storm"] ?? 1000),
    stormPublish: 250,
    stormHistorySize: 20,
    warmup: 50,
  };
  if (!Number.isInteger(settings.n) || settings.n < 2 || settings.n % 2 !== 0) throw new Error("--bp-n must be even");
  const started = Date.now();
  await waitForQuiet("the backplane section");
  const redis = await startRedis(binary, log);
  log(`backplane section: Redis ${redis.version} at ${redis.url}; ${JSON.stringify(settings)}`);
  const entry = { eventFlareEntry: pkg.entry, impl: "event-flare", flushInterval: 0 };
  const half = settings.n / 2;
  const single = new Setup(ctx, "single", "single process");
  const cluster = new Setup(ctx, "two-node", "two nodes (Redis)");
  const storm = new Setup(ctx, "storm", "reconnect storm");
  const cells = [];
  try {
    const s = await single.addServer("S", entry);
    await single.addClient("s1", s, half);
    await single.addClient("s2", s, half);
    const a = await cluster.addServer("A", { ...entry, backplane: { url: redis.url, nodeId: "bench-A" } });
    const b = await cluster.addServer("B", { ...entry, backplane: { url: redis.url, nodeId: "bench-B" } });
    await cluster.addClient("A", a, half);
    await cluster.addClient("B", b, half);
    log(`backplane: ${settings.n} clients open on each set-up (single: 2 × ${half} on S; two-node: ${half} on A, B)`);

    const { size } = settings;
    for (const setup of [single, cluster]) {
      for (let i = 0; i < 2; i++) await setup.runCell(settings.warmup, size, "burst", 0, redis);
    }
    const record = (r, label) => {
      cells.push(r);
      const side = (name) => (r.bySide[name] ? ` ${name} p99 ${ms(r.bySide[name].p99)}` : "");
      log(
        `backplane ${label.padEnd(18)} ${r.setup.padEnd(8)}: ${fmtInt(r.eventsPerSec).padStart(9)} ev/s, ` +
          `p50 ${ms(r.latency.p50)} ms, p99 ${ms(r.latency.p99)} ms, max ${ms(r.latency.max)} ms;${side("A")}${side("B")}; ` +
          `server CPU ${fmt(r.serverCpuPer1k / 1000)} µs/ev, Redis CPU ${fmt(r.redisCpuPer1k / 1000)} µs/ev, ` +
          `others ${fmt(r.foreignCores)} cores`,
      );
    };
    // The interference guard of run.mjs: a cell during which other processes used more than --retry-cores is run
    // again (up to --attempts times), keeping the least disturbed attempt.
    const measure = async (setup, m, pace, intervalMs, label) => {
      let best;
      for (let attempt = 1; attempt <= ctx.maxAttempts; attempt++) {
        const r = await setup.runCell(m, size, pace, intervalMs, redis);
        r.attempt = attempt;
        if (best === undefined || r.foreignCores < best.foreignCores) best = r;
        if (r.foreignCores <= ctx.retryCores) break;
        log(`backplane ${label} ${setup.key}: other processes used ${fmt(r.foreignCores)} cores; running it again`);
        if (attempt < ctx.maxAttempts) await waitForQuiet(`re-running backplane ${label} ${setup.key}`);
      }
      record(best, label);
      return best;
    };
    const intervalMs = 1000 / settings.rate;
    for (const setup of [single, cluster]) {
      const r = await measure(setup, settings.rateEvents, "rate", intervalMs, `${settings.rate}/s`);
      r.repeat = 0;
    }
    for (let repeat = 0; repeat < settings.repeats; repeat++) {
      const order = repeat % 2 === 0 ? [single, cluster] : [cluster, single];
      for (const setup of order) {
        const r = await measure(setup, settings.burstM, "burst", 0, `burst r${repeat + 1}`);
        r.repeat = repeat;
      }
    }
    await single.verify();
    await cluster.verify();
    await single.close();
    // Node B and every client leave; node A stays as the publisher of the storm's stream.
    await cluster.closeClients();
    const nodeB = cluster.servers.pop();
    await nodeB.child.stop();

    const stormResult = await reconnectStorm(ctx, settings, redis, cluster, storm);
    const summary = summarize(cells, settings);
    const targets = evaluate(summary, stormResult);
    const runMs = Date.now() - started;
    log(
      `backplane section done in ${fmt(runMs / 60000, 1)} min (${fmt(waitedMs / 1000, 0)} s of it waiting for quiet)`,
    );
    return { settings, redisVersion: redis.version, cells, summary, storm: stormResult, targets, runMs, waitedMs };
  } finally {
    await storm.close();
    await single.close();
    await cluster.close();
    await redis.stop();
  }
}

/** The storm: node A publishes, fresh node C (ring of 20) takes `settings.storm` reconnects with an old Last-Event-ID. */
async function reconnectStorm(ctx, settings, redis, cluster, storm) {
  const { step, connectTimeoutMs, cellTimeoutMs, pkg, log } = ctx;
  const [nodeA] = cluster.servers;
  const { size } = settings;
  nodeA.child.send({ cmd: "run", seqStart: cluster.seq, m: settings.stormPublish, size, pace: "burst" });
  const published = await step(nodeA.child.next("broadcast-done", cellTimeoutMs));
  if (published.tAcked === undefined) throw new Error("node A: no tAcked from a backplane broadcast");
  cluster.seq += settings.stormPublish;

  // The stream as Redis holds it (MAXLEN ~ 100 keeps 100 to ~200 entries): Last-Event-ID = its 6th-oldest event.
  const { KeyLayout } = await import(pathToFileURL(path.join(path.dirname(pkg.entry), "redis", "index.js")).href);
  const key = new KeyLayout("ef").channel("bench");
  const entries = (await redis.admin.sendCommand(["XRANGE", key, "-", "+"]))
    .map(([id, fields]) => ({ id, fields }))
    .filter((e) => e.fields[0] === "j")
    .map((e) => ({ id: e.id, seq: Number(JSON.parse(e.fields[1])[0].split(":")[0]) }));
  if (entries.length < 30) throw new Error(`the stream holds ${entries.length} events; expected about 100`);
  const from = entries[5];
  const newest = entries[entries.length - 1];
  if (newest.seq !== cluster.seq - 1) throw new Error(`newest event in the stream is seq ${newest.seq}`);
  const replayed = newest.seq - from.seq;
  if (replayed <= settings.stormHistorySize) throw new Error("the Last-Event-ID is inside node C's ring");

  const c = await storm.addServer("C", {
    eventFlareEntry: pkg.entry,
    impl: "event-flare",
    flushInterval: 0,
    backplane: { url: redis.url, nodeId: "bench-C", historySize: settings.stormHistorySize, countReplays: true },
  });
  await sleep(500); // node C follows the channel (reads its newest 20 events into the ring)
  const before = await redis.commandCalls();
  const { Child } = ctx;
  const client = new Child("storm client", "client.mjs", {
    port: c.port,
    n: settings.storm,
    concurrency: settings.storm,
    lastEventId: from.id,
    seqStart: from.seq + 1,
    armed: { m: replayed, size },
  });
  storm.clients.push({ name: "storm", child: client, server: c, n: settings.storm });
  storm.seq = newest.seq + 1;
  c.child.send({ cmd: "wait-clients", n: settings.storm });
  const [connected, done] = await step(
    Promise.all([client.next("connected", connectTimeoutMs), client.next("cell-done", cellTimeoutMs)]),
  );
  await step(c.child.next("clients", connectTimeoutMs));
  await sleep(300); // member counts are written at most every 50 ms
  const after = await redis.commandCalls();
  c.child.send({ cmd: "replays" });
  const { count: replayReads } = await step(c.child.next("replays", 10_000));
  await storm.verify();
  const delta = {};
  for (const [name, calls] of Object.entries(after)) {
    const d = calls - (before[name] ?? 0) - (name === "info" ? 1 : 0);
    if (d !== 0) delta[name] = d;
  }
  const total = Object.entries(delta).reduce((sum, [name, d]) => (name === "info" ? sum : sum + d), 0);
  const result = {
    reconnects: settings.storm,
    streamEntries: entries.length,
    lastEventId: from.id,
    eventsReplayedPerClient: replayed,
    connectMs: connected.ms,
    allReplayedMs: done.clientWallUs / 1000,
    commands: total,
    commandsPerReconnect: total / settings.storm,
    byCommand: delta,
    evalsha: delta.evalsha ?? 0,
    xrange: delta.xrange ?? 0,
    replayReads,
  };
  log(
    `backplane storm: ${settings.storm} reconnects, ${replayed} events replayed to each in ` +
      `${fmt(result.allReplayedMs, 0)} ms; Redis commands ${total} (${fmt(result.commandsPerReconnect, 3)} per ` +
      `reconnect: ${JSON.stringify(delta)}); replay reads ${replayReads}`,
  );
  return result;
}

function summarize(cells, settings) {
  const get = (setup, pace) => cells.filter((c) => c.setup === setup && c.pace === pace);
  const rateOf = (setup) => get(setup, "rate")[0];
  const burst = (setup) => get(setup, "burst");
  const med = (rs, f) => median(rs.map(f));
  const ratios = [];
  for (const r of burst("two-node")) {
    const base = burst("single").find((b) => b.repeat === r.repeat);
    if (base !== undefined) ratios.push(r.eventsPerSec / base.eventsPerSec);
  }
  const out = {};
  for (const setup of ["single", "two-node"]) {
    const b = burst(setup);
    out[setup] = {
      rate: rateOf(setup),
      burst: {
        eventsPerSec: med(b, (r) => r.eventsPerSec),
        min: Math.min(...b.map((r) => r.eventsPerSec)),
        max: Math.max(...b.map((r) => r.eventsPerSec)),
        p50Us: med(b, (r) => r.latency.p50),
        p99Us: med(b, (r) => r.latency.p99),
        serverCpuPer1k: med(b, (r) => r.serverCpuPer1k),
        redisCpuPer1k: med(b, (r) => r.redisCpuPer1k),
        publishAckedUs: med(
          b.filter((r) => r.publishAckedUs !== undefined),
          (r) => r.publishAckedUs,
        ),
      },
    };
  }
  out.burstRatio = median(ratios);
  out.burstRatios = ratios;
  out.settings = settings;
  return out;
}

function evaluate(summary, storm) {
  const out = [];
  const crossP99 = summary["two-node"].rate?.bySide.B.p99;
  out.push({
    target: `cross-node p99 < 50 ms (N = ${summary.settings.n}, ${summary.settings.rate} events/s)`,
    measured: `${ms(crossP99)} ms`,
    met: crossP99 < 50_000,
  });
  out.push({
    target: "two-node burst events/s ≥ 0.5× single process",
    measured: x(summary.burstRatio),
    met: summary.burstRatio >= 0.5,
  });
  // One batch here: every client reconnects at once, to one channel.
  out.push({
    target: `reconnect storm (${storm.reconnects} at once, 1 channel): at most one replay read per channel per batch`,
    measured: `${storm.replayReads} read(s)`,
    met: storm.replayReads <= 1,
  });
  out.push({
    target: "reconnect storm: at most one XRANGE per channel per batch (read literally)",
    measured: `${storm.xrange} XRANGE`,
    met: storm.xrange <= 1,
  });
  out.push({
    target: "Redis commands per reconnect (reported)",
    measured: fmt(storm.commandsPerReconnect, 3),
    met: undefined,
  });
  return out;
}

/** Markdown for the report of run.mjs. */
export function backplaneMarkdown(result) {
  if (result === undefined) return "";
  if (result.skipped !== undefined) return `### Backplane (Redis)\n\nSkipped: ${result.skipped}.\n`;
  const { settings: st, summary, storm, redisVersion } = result;
  const lines = [];
  lines.push("### Backplane (Redis)");
  lines.push("");
  lines.push(
    `Redis ${redisVersion} (private, 127.0.0.1, no persistence). N = ${st.n} clients (single: 2 client processes × ` +
      `${st.n / 2} on one server; two-node: ${st.n / 2} on node A, ${st.n / 2} on node B), ${st.size} B events, ` +
      `published on node A (single: on the server). Rate cell: ${st.rateEvents} events at ${st.rate}/s; burst: ` +
      `${st.burstM} broadcasts in one loop, median of ${st.repeats} (on the backplane all ${st.burstM} EVALSHA in ` +
      "flight at once, pipelined by node-redis).",
  );
  lines.push("");
  lines.push(
    "| set-up | clients | rate p50 ms | p99 ms | max ms | burst events/s | (min–max) | × single | burst p50 ms | p99 ms | server CPU µs / 1000 events | Redis CPU µs / 1000 events |",
  );
  lines.push("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
  const k = (v) => (Number.isFinite(v) ? `${Math.round(v / 1000)}k` : "–");
  for (const setup of ["single", "two-node"]) {
    const s = summary[setup];
    const b = s.burst;
    const ratio = setup === "single" ? "1.00×" : x(summary.burstRatio);
    lines.push(
      `| ${setup === "single" ? "single process" : "two nodes"} | all ${st.n} | ${ms(s.rate.latency.p50)} | ` +
        `${ms(s.rate.latency.p99)} | ${ms(s.rate.latency.max)} | ${fmtInt(b.eventsPerSec)} | ${k(b.min)}–${k(b.max)} | ` +
        `${ratio} | ${ms(b.p50Us)} | ${ms(b.p99Us)} | ${fmtInt(b.serverCpuPer1k)} | ${fmtInt(b.redisCpuPer1k)} |`,
    );
    if (setup === "two-node") {
      for (const [side, label] of [
        ["A", "on A (publisher's node)"],
        ["B", "on B (cross-node)"],
      ]) {
        const l = s.rate.bySide[side];
        lines.push(`| two nodes | ${st.n / 2} ${label} | ${ms(l.p50)} | ${ms(l.p99)} | ${ms(l.max)} | | | | | | | |`);
      }
    }
  }
  const acked = summary["two-node"].burst.publishAckedUs;
  lines.push("");
  lines.push(
    `Two nodes, burst: Redis had acknowledged all ${st.burstM} broadcasts ${ms(acked)} ms (median) after the loop ` +
      `began. Section run time ${fmt(result.runMs / 60000, 1)} min, ${fmt(result.waitedMs / 1000, 0)} s of it ` +
      "waiting for a quiet machine.",
  );
  lines.push("");
  lines.push(
    `Reconnect storm: ${storm.reconnects} clients connect at once to a fresh node C (channel historySize ` +
      `${st.stormHistorySize}) with Last-Event-ID ${storm.lastEventId}, ${storm.eventsReplayedPerClient} events back ` +
      `(the stream held ${storm.streamEntries}): all connected in ${fmt(storm.connectMs, 0)} ms, all replayed in ` +
      `${fmt(storm.allReplayedMs, 0)} ms. Redis commands: ${storm.commands} (${fmt(storm.commandsPerReconnect, 3)} per ` +
      `reconnect; inside scripts included): ${Object.entries(storm.byCommand)
        .map(([name, d]) => `${name} ${d}`)
        .join(", ")}. Replay reads (node C): ${storm.replayReads}.`,
  );
  lines.push("");
  lines.push("| target | measured | met |");
  lines.push("|---|--:|:-:|");
  for (const t of result.targets) {
    lines.push(`| ${t.target} | ${t.measured} | ${t.met === undefined ? "–" : t.met ? "yes" : "**no**"} |`);
  }
  lines.push("");
  return lines.join("\n");
}
