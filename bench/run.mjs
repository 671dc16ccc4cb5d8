// Broadcast benchmark: event-flare against a raw node:http fan-out, better-sse and sse-channel.
//
//   npm run bench                      full matrix: N = 100, 1000, 5000; 3 repeats (takes a while)
//   node bench/run.mjs --quick         N = 100, 1000; 1 repeat; idle-memory phase with 1000 connections
//   node bench/run.mjs --only=5000     only these N (comma-separated) in the throughput phase
//   node bench/run.mjs --only=backplane  only the backplane section (Redis, two nodes; see backplane-section.mjs);
//                                      --only=1000,backplane: throughput at N = 1000, then the backplane section
//
// After the throughput and memory phases, `npm run bench` runs the backplane section (event-flare on a Redis backplane,
// two node processes, against the single-process server in the same run; about 1 minute), unless --only names
// only N values or --skip-backplane is given; without redis-server on PATH it is skipped with a note. Its flags:
//              --bp-n=1000 --bp-size=1024 --bp-rate=50 --bp-rate-events=500 --bp-burst-m=200 --bp-repeats=5
//              --bp-storm=1000 --redis-server=PATH
//
// The runtimes section (runtimes-section.mjs: event-flare's Fetch path on Node, Bun and Deno, the same server code)
// runs after the throughput phase, unless --only leaves it out or --skip-runtimes is given; --only=runtimes runs it
// alone. Its flags: --rt-n=1000 --rt-size=1024 --rt-m=200 --rt-repeats=3 --rt-runtimes=node,bun,deno
//
// Other flags: --repeats=K  --messages=M  --impl=raw,event-flare,…  --payloads=64,1024  --paces=immediate,burst
//              --mem-n=N  --skip-mem  --mem-only  --cell-timeout=SECONDS  --pin (taskset: server CPU 0, client CPU 1)
//              --paces=steady [--steady-ms=100]  (not in the default matrix: one broadcast every steady-ms, a light load
//                                    for latency; events/s then only reflects the pace)
//              --cpu-prof[=impl,…]  (server children write .cpuprofile files to bench/results/profiles/)
//              --heap-snapshot      (idle-memory servers write heap snapshots before/after connecting)
//              --quiet-cores=0.15 --quiet-wait=900 --attempts=4 --retry-cores=0.25  (interference guard, below)
//              --rotate-impls=false (always measure in the order A B C D E instead of rotating it cell by cell)
//              --inject-fault=drop|duplicate|reorder|truncate  (self-test: the raw server misbehaves towards one client
//                                    in the first measured cell; the run must fail with a non-zero exit)
//              --dist=DIR           (benchmark the event-flare ESM build in DIR instead of ./dist/esm, e.g. a build of
//                                    one commit exported with `git archive`; DIR must sit inside this repository so
//                                    that its `rxjs` import resolves)
//              --baseline=COMMIT    (an extra contender: event-flare built from COMMIT by bench/build-commit.mjs, measured
//                                    in every cell next to this build; the report adds this build ÷ that one)
// BENCH_QUICK=1 in the environment is the same as --quick.
//
// Layout: this orchestrator forks, for each implementation and N, a SERVER child (server.mjs: the implementation
// alone, measured with process.cpuUsage/memoryUsage) and a CLIENT child (client.mjs: N TCP connections that verify
// every event). All implementations are connected side by side for a given N and measured cell by cell in turn
// (A B C D E, B C D E A, …: interleaved, with the order rotated), in each of the repeats; the report gives medians over repeats and ratios to raw. Writes bench/results/bench-<date>.json and .md; prints markdown.
// Exits non-zero when any client misses, duplicates or reorders an event, or anything times out.
import { execFileSync, fork } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BACKPLANE_FLAGS, backplaneMarkdown, backplaneSection } from "./backplane-section.mjs";
import { buildCommit } from "./build-commit.mjs";
import { median } from "./common.mjs";
import { RUNTIME_FLAGS, runtimesMarkdown, runtimesSection } from "./runtimes-section.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const resultsDir = path.join(here, "results");

// ---------------------------------------------------------------------------------------------------------------
// Options

function parseArgs(argv) {
  const out = {};
  for (const arg of argv) {
    const match = /^--([^=]+)(?:=(.*))?$/.exec(arg);
    if (match === null) throw new Error(`unknown argument ${arg}`);
    out[match[1]] = match[2] ?? true;
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const known = new Set([
  "quick",
  "only",
  "repeats",
  "messages",
  "impl",
  "payloads",
  "paces",
  "mem-n",
  "skip-mem",
  "mem-only",
  "cell-timeout",
  "pin",
  "cpu-prof",
  "heap-snapshot",
  "quiet-cores",
  "quiet-wait",
  "attempts",
  "retry-cores",
  "dist",
  "rotate-impls",
  "inject-fault",
  "steady-ms",
  "skip-backplane",
  "skip-runtimes",
  "baseline",
  ...BACKPLANE_FLAGS,
  ...RUNTIME_FLAGS,
]);
for (const name of Object.keys(args)) if (!known.has(name)) throw new Error(`unknown flag --${name}`);

const list = (value) => String(value).split(",").filter(Boolean);
const quick = args.quick === true || process.env.BENCH_QUICK === "1";
const allNs = quick ? [100, 1000] : [100, 1000, 5000];
const onlyList = args.only !== undefined ? list(args.only) : undefined;
const Ns = onlyList !== undefined ? onlyList.filter((v) => v !== "backplane" && v !== "runtimes").map(Number) : allNs;
// The backplane section: by default after the rest; with --only, when it names "backplane".
const runBackplane =
  args["skip-backplane"] !== true &&
  (onlyList !== undefined ? onlyList.includes("backplane") : args["mem-only"] !== true);
// The runtimes section (Fetch path on Node, Bun, Deno): by default after the throughput phase; with --only, when it
// names "runtimes".
const runRuntimes =
  args["skip-runtimes"] !== true &&
  (onlyList !== undefined ? onlyList.includes("runtimes") : args["mem-only"] !== true);
// --only=backplane (or runtimes) alone: neither the memory nor the throughput phase.
const backplaneOnly = onlyList !== undefined && Ns.length === 0;
const repeats = Number(args.repeats ?? (quick ? 1 : 3));
const M = Number(args.messages ?? 200);
const WARMUP = 20;
const payloads = args.payloads !== undefined ? list(args.payloads).map(Number) : [64, 1024];
const paces = args.paces !== undefined ? list(args.paces) : ["immediate", "burst"];
const memN = Number(args["mem-n"] ?? (quick ? 1000 : 5000));
const cellTimeoutMs = Number(args["cell-timeout"] ?? 300) * 1000;
const connectTimeoutMs = 120_000;
// Interference guard (the machine may be shared): wait until other processes use at most --quiet-cores cores
// before each group (up to --quiet-wait seconds), and re-run a cell (up to --attempts times) when other processes
// used more than that during it, keeping the least disturbed attempt.
const quietCores = Number(args["quiet-cores"] ?? 0.15);
const quietWaitMs = Number(args["quiet-wait"] ?? 900) * 1000;
const maxAttempts = Number(args.attempts ?? 4);
const retryCores = Number(args["retry-cores"] ?? 0.25);
const rotateImpls = args["rotate-impls"] !== "false";
const injectFault = args["inject-fault"];
if (injectFault !== undefined && !["drop", "duplicate", "reorder", "truncate"].includes(injectFault)) {
  throw new Error(`--inject-fault must be drop, duplicate, reorder or truncate, not ${injectFault}`);
}

const IMPLEMENTATIONS = [
  { key: "raw", impl: "raw", label: "raw node:http" },
  { key: "event-flare", impl: "event-flare", flushInterval: 0, label: "event-flare" },
  {
    key: "event-flare-fetch",
    impl: "event-flare-fetch",
    flushInterval: 0,
    label: "event-flare Fetch (Hono on @hono/node-server)",
    paces: ["immediate", "burst"],
    memory: false,
  },
  { key: "better-sse", impl: "better-sse", label: "better-sse 0.16" },
  { key: "sse-channel", impl: "sse-channel", label: "sse-channel 4" },
  {
    key: "event-flare-fi10",
    impl: "event-flare",
    flushInterval: 10,
    label: "event-flare flushInterval 10",
    paces: ["immediate", "steady"],
    memory: false,
  },
];
if (args.baseline !== undefined) {
  const commit = execFileSync("git", ["rev-parse", "--short", String(args.baseline)], { encoding: "utf8" }).trim();
  IMPLEMENTATIONS.push({
    key: "event-flare-base",
    impl: "event-flare",
    flushInterval: 0,
    label: `event-flare ${commit} (baseline)`,
    entry: buildCommit(commit),
  });
}
const implFilter = args.impl !== undefined ? new Set(list(args.impl)) : undefined;
const impls = IMPLEMENTATIONS.filter((i) => implFilter === undefined || implFilter.has(i.key));
if (impls.length === 0) throw new Error(`--impl matched nothing; known: ${IMPLEMENTATIONS.map((i) => i.key)}`);
for (const n of Ns) if (!Number.isInteger(n) || n < 1) throw new Error(`bad N ${n}`);
for (const pace of paces) {
  if (!["immediate", "burst", "steady"].includes(pace)) throw new Error(`bad pace ${pace}`);
}
const steadyMs = Number(args["steady-ms"] ?? 100);

const cpuProf = args["cpu-prof"];
const cpuProfImpls = cpuProf === true ? undefined : cpuProf !== undefined ? new Set(list(cpuProf)) : new Set();
const profileDir = path.join(resultsDir, "profiles");
const snapshotDir = args["heap-snapshot"] === true ? path.join(resultsDir, "snapshots") : undefined;

// ---------------------------------------------------------------------------------------------------------------
// Children: always killed on exit, never waited on without a timeout.

const live = new Set();
function killAll() {
  for (const proc of live) {
    try {
      proc.kill("SIGKILL");
    } catch {}
  }
}
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    process.stderr.write(`\n${signal}: stopping children\n`);
    killAll();
    process.exit(130);
  });
}

/** Rejects as soon as any child reports an error or dies: every wait races against it. */
let rejectFatal;
const fatal = new Promise((_, reject) => {
  rejectFatal = reject;
});
fatal.catch(() => {});
const step = (promise) => Promise.race([promise, fatal]);

class Child {
  constructor(label, script, config, execArgv = [], cpu = undefined) {
    this.label = label;
    this.queue = [];
    this.waiters = [];
    this.exiting = false;
    this.proc = fork(path.join(here, script), [JSON.stringify(config)], {
      execArgv: ["--expose-gc", ...execArgv],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    live.add(this.proc);
    if (cpu !== undefined) {
      try {
        execFileSync("taskset", ["-a", "-p", "-c", String(cpu), String(this.proc.pid)], { stdio: "ignore" });
      } catch (error) {
        process.stderr.write(`taskset failed (${error.message}); running unpinned\n`);
      }
    }
    this.proc.on("message", (msg) => this.deliver(msg));
    this.exited = new Promise((resolve) => {
      this.proc.on("exit", (code, signal) => {
        live.delete(this.proc);
        if (!this.exiting) this.abort(new Error(`${label} exited unexpectedly (code ${code}, signal ${signal})`));
        resolve();
      });
    });
  }

  deliver(msg) {
    if (msg.type === "error") {
      this.abort(new Error(`${this.label}: ${msg.message}`));
      return;
    }
    const i = this.waiters.findIndex((w) => w.type === msg.type);
    if (i === -1) {
      this.queue.push(msg);
      return;
    }
    const [waiter] = this.waiters.splice(i, 1);
    clearTimeout(waiter.timer);
    waiter.resolve(msg);
  }

  abort(error) {
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    rejectFatal(error);
  }

  /** The next message of this type (queued or future), or a rejection after timeoutMs. */
  next(type, timeoutMs) {
    const i = this.queue.findIndex((m) => m.type === type);
    if (i !== -1) return Promise.resolve(this.queue.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const waiter = { type, resolve, reject };
      waiter.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`${this.label}: no "${type}" within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  send(msg) {
    this.proc.send(msg);
  }

  async stop() {
    this.exiting = true;
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    try {
      this.proc.send({ cmd: "exit" });
    } catch {}
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

function serverArgv(impl, tag) {
  if (cpuProf === undefined || (cpuProfImpls !== undefined && !cpuProfImpls.has(impl.key))) return [];
  mkdirSync(profileDir, { recursive: true });
  return ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${impl.key}-${tag}.cpuprofile`];
}

const pin = args.pin === true;
const SERVER_CPU = pin ? 0 : undefined;
const CLIENT_CPU = pin ? 1 : undefined;

// ---------------------------------------------------------------------------------------------------------------
// Phases

const log = (line) => process.stderr.write(`${line}\n`);
const fmtInt = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "–");
const fmt = (v, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : "–");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let jiffyUs = 10_000;
try {
  jiffyUs = 1e6 / Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
} catch {}

/** Machine-wide CPU time from /proc/stat, in µs: busy (everything but idle and iowait) and irq + softirq. */
function procStat() {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = fields;
    return { busy: (user + nice + system + irq + softirq + steal) * jiffyUs, irq: (irq + softirq) * jiffyUs };
  } catch {
    return undefined;
  }
}

/** Waits until the machine is quiet (no children of ours run at this point), or until --quiet-wait passes. */
async function waitForQuiet(context) {
  const deadline = Date.now() + quietWaitMs;
  let waited = false;
  for (;;) {
    const a = procStat();
    const t = Date.now();
    await sleep(1000);
    const b = procStat();
    if (a === undefined || b === undefined) return 0;
    const cores = (b.busy - a.busy) / ((Date.now() - t) * 1000);
    if (cores <= quietCores) {
      if (waited) log(`machine quiet again (${fmt(cores)} cores busy); ${context}`);
      return cores;
    }
    if (Date.now() > deadline) {
      log(`machine still busy (${fmt(cores)} cores) after ${quietWaitMs / 1000} s; going on with ${context}`);
      return cores;
    }
    if (!waited) log(`machine busy (${fmt(cores)} cores used by other processes); waiting before ${context}`);
    waited = true;
    await sleep(2000);
  }
}

const sizeLabel = (size) => (size >= 1024 && size % 1024 === 0 ? `${size / 1024} KiB` : `${size} B`);

/** Idle memory: bytes per connection after N streams are open and idle, full GC before both readings. */
async function memoryPhase(impl, n, repeat) {
  const config = {
    impl: impl.impl,
    flushInterval: impl.flushInterval,
    snapshotDir,
    eventFlareEntry: impl.entry ?? pkg.entry,
  };
  if (snapshotDir !== undefined) mkdirSync(snapshotDir, { recursive: true });
  const server = new Child(`server ${impl.key} (memory)`, "server.mjs", config, [], SERVER_CPU);
  try {
    const { port } = await step(server.next("listening", 15_000));
    server.send({ cmd: "mem", label: "before" });
    const before = await step(server.next("mem", 60_000));
    const client = new Child(`client ${impl.key} (memory)`, "client.mjs", { port, n }, [], CLIENT_CPU);
    try {
      server.send({ cmd: "wait-clients", n });
      await step(Promise.all([client.next("connected", connectTimeoutMs), server.next("clients", connectTimeoutMs)]));
      await new Promise((resolve) => setTimeout(resolve, 1000));
      server.send({ cmd: "mem", label: "after" });
      const after = await step(server.next("mem", 60_000));
      if (after.count !== n) throw new Error(`${impl.key}: ${after.count} streams registered, expected ${n}`);
      const per = (field) => (after.memory[field] - before.memory[field]) / n;
      const result = {
        repeat,
        impl: impl.key,
        n,
        heapPerConn: per("heapUsed"),
        rssPerConn: per("rss"),
        externalPerConn: per("external"),
        arrayBuffersPerConn: per("arrayBuffers"),
        before: before.memory,
        after: after.memory,
        snapshots: [before.snapshot, after.snapshot].filter(Boolean),
      };
      log(
        `[r${repeat + 1}] memory ${impl.key.padEnd(16)} N=${n}: heap ${fmtInt(result.heapPerConn)} B/conn, ` +
          `RSS ${fmtInt(result.rssPerConn)} B/conn`,
      );
      return result;
    } finally {
      await client.stop();
    }
  } finally {
    await server.stop();
  }
}

/** One implementation's server child and client child for one N, with the streams open. */
class Pair {
  constructor(impl, n, repeat) {
    this.impl = impl;
    this.n = n;
    this.repeat = repeat;
    this.seq = 0;
    this.server = undefined;
    this.client = undefined;
  }

  async open() {
    const { impl, n } = this;
    this.server = new Child(
      `server ${impl.key} N=${n}`,
      "server.mjs",
      {
        impl: impl.impl,
        flushInterval: impl.flushInterval,
        eventFlareEntry: impl.entry ?? pkg.entry,
        fault: impl.key === "raw" ? injectFault : undefined,
        // The fault hits the first cell after the warm-up (one warm-up cell per pace).
        faultSeq: WARMUP * warmupPaces(impl).length + 5,
      },
      serverArgv(impl, `N${n}-r${this.repeat + 1}`),
      SERVER_CPU,
    );
    const { port } = await step(this.server.next("listening", 15_000));
    this.client = new Child(`client ${impl.key} N=${n}`, "client.mjs", { port, n }, [], CLIENT_CPU);
    this.server.send({ cmd: "wait-clients", n });
    const [connected] = await step(
      Promise.all([this.client.next("connected", connectTimeoutMs), this.server.next("clients", connectTimeoutMs)]),
    );
    log(`[r${this.repeat + 1}] ${impl.key} N=${n}: ${n} streams open in ${fmt(connected.ms, 0)} ms`);
  }

  /** Broadcasts m events of `size` bytes at `pace`; resolves when every client has all of them. */
  async runCell(m, size, pace) {
    const { server, client, impl, n } = this;
    server.send({ cmd: "prepare" });
    await step(server.next("prepared", 60_000));
    client.send({ cmd: "expect", seqStart: this.seq, m, size });
    await step(client.next("armed", 60_000));
    const stat0 = procStat();
    const wall0 = Date.now();
    server.send({ cmd: "run", seqStart: this.seq, m, size, pace, intervalMs: steadyMs });
    let broadcast;
    let done;
    try {
      [broadcast, done] = await step(
        Promise.all([server.next("broadcast-done", cellTimeoutMs), client.next("cell-done", cellTimeoutMs)]),
      );
    } catch (error) {
      if (!/within/.test(error.message)) throw error;
      client.send({ cmd: "status" });
      const status = await client.next("status", 5000).catch(() => undefined);
      throw new Error(`${error.message}; client status: ${JSON.stringify(status)}`);
    }
    server.send({ cmd: "cpu" });
    const cpu = await step(server.next("cpu", 30_000));
    const stat1 = procStat();
    const windowUs = (Date.now() - wall0) * 1000;
    this.seq += m;
    const events = n * m;
    if (done.events !== events) throw new Error(`${impl.key}: ${done.events} events counted, expected ${events}`);
    const elapsedUs = done.tLast - broadcast.t0;
    const serverCpuUs = cpu.user + cpu.system;
    // CPU used by other processes during the cell: machine busy time minus ours (server + client) minus
    // irq/softirq (loopback TCP work, charged to no process; mostly ours). A lower bound on interference.
    const haveStat = stat0 !== undefined && stat1 !== undefined;
    const irqUs = haveStat ? stat1.irq - stat0.irq : 0;
    const foreignUs = haveStat ? stat1.busy - stat0.busy - irqUs - serverCpuUs - done.clientCpuUs : 0;
    return {
      repeat: this.repeat,
      impl: impl.key,
      n,
      size,
      pace,
      m,
      events,
      elapsedUs,
      eventsPerSec: events / (elapsedUs / 1e6),
      serverCpuUs,
      serverUserUs: cpu.user,
      serverSystemUs: cpu.system,
      cpuPer1k: serverCpuUs / (events / 1000),
      broadcastLoopUs: broadcast.tEnd - broadcast.t0,
      latencyP50Us: done.latency.p50,
      latencyP90Us: done.latency.p90,
      latencyP99Us: done.latency.p99,
      latencyMaxUs: done.latency.max,
      clientCpuPct: (100 * done.clientCpuUs) / elapsedUs,
      clientSystemPct: (100 * done.clientSystemUs) / elapsedUs,
      // Sleeps (and so kernel wake-ups) per 1000 delivered events: the client's, and the server's.
      clientWakeupsPer1k: done.clientVoluntarySwitches / (events / 1000),
      serverWakeupsPer1k: cpu.voluntarySwitches / (events / 1000),
      serverPreemptionsPer1k: cpu.involuntarySwitches / (events / 1000),
      softirqCores: irqUs / Math.max(windowUs, 1),
      foreignCores: Math.max(0, foreignUs) / Math.max(windowUs, 1),
    };
  }

  /** Checks that every client ended with every event exactly once and nothing after it. */
  async verify() {
    this.client.send({ cmd: "verify", total: this.seq });
    const verified = await step(this.client.next("verified", 30_000));
    if (!verified.ok) {
      throw new Error(`${this.impl.key} N=${this.n}: verification failed: ${verified.errors.join("; ")}`);
    }
  }

  async close() {
    await this.client?.stop();
    await this.server?.stop();
  }
}

const pacesOf = (impl) => (impl.paces ?? paces).filter((pace) => paces.includes(pace));
const warmupPaces = (impl) => [...new Set(pacesOf(impl).map((p) => (p === "steady" ? "immediate" : p)))];

/**
 * One round for one N: every implementation's server and client are started and connected first (idle ones cost
 * nothing: heartbeats are set to an hour), then each (payload, pace) cell is measured for A, B, C, D, E in turn,
 * so that the implementations compared in a cell are measured within seconds of each other.
 */
async function throughputRound(n, repeat) {
  await waitForQuiet(`round N=${n}`);
  const pairs = impls.map((impl) => new Pair(impl, n, repeat));
  const results = [];
  try {
    for (const pair of pairs) await pair.open();
    // Warm-up (JIT, socket buffers), discarded: WARMUP small events at each pace (immediate for a steady pace).
    for (const pair of pairs) {
      for (const pace of warmupPaces(pair.impl)) {
        await pair.runCell(WARMUP, 64, pace);
      }
    }

    const cells = [];
    for (const size of payloads) for (const pace of paces) cells.push([size, pace]);
    // Rotate the cell order by repeat, so no cell always runs first (or last).
    const rotated = cells.map((_, i) => cells[(i + repeat) % cells.length]);
    for (const [cellIndex, [size, pace]] of rotated.entries()) {
      // A B C D E in the first cell, then B C D E A, C D E A B, … (unless --rotate-impls=false): no implementation
      // is always measured first, or always right after the same neighbour.
      const shift = rotateImpls ? (cellIndex + repeat * rotated.length) % pairs.length : 0;
      const order = pairs.map((_, i) => pairs[(i + shift) % pairs.length]);
      for (const pair of order) {
        if (!pacesOf(pair.impl).includes(pace)) continue;
        const { impl } = pair;
        let r;
        for (let attempt = 1; attempt <= maxAttempts; attempt++) {
          const tryResult = await pair.runCell(M, size, pace);
          tryResult.attempt = attempt;
          if (r === undefined || tryResult.foreignCores < r.foreignCores) r = tryResult;
          if (tryResult.foreignCores <= retryCores) break;
          log(
            `[r${repeat + 1}] ${impl.key} N=${n} ${sizeLabel(size)} ${pace}: other processes used ` +
              `${fmt(tryResult.foreignCores)} cores during the cell` +
              (attempt < maxAttempts ? "; running it again" : "; keeping the least disturbed attempt"),
          );
          if (attempt < maxAttempts) await waitForQuiet(`re-running ${impl.key} N=${n}`);
        }
        results.push(r);
        log(
          `[r${repeat + 1}] ${impl.key.padEnd(16)} N=${String(n).padStart(4)} ${sizeLabel(size).padStart(6)} ` +
            `${pace.padEnd(9)}: ${fmtInt(r.eventsPerSec).padStart(9)} ev/s, ${fmt(r.cpuPer1k / 1000)} µs CPU/ev, ` +
            `p50 ${fmt(r.latencyP50Us / 1000)} ms, p99 ${fmt(r.latencyP99Us / 1000)} ms, ` +
            `client CPU ${fmt(r.clientCpuPct, 0)} %, client sleeps/1k ev ${fmt(r.clientWakeupsPer1k, 1)}, ` +
            `softirq ${fmt(r.softirqCores)} cores, others ${fmt(r.foreignCores)} cores`,
        );
      }
    }
    for (const pair of pairs) await pair.verify();
    return results;
  } finally {
    for (const pair of pairs) await pair.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Report

function machineInfo() {
  let cpuModel = os.cpus()[0]?.model ?? "unknown";
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    if (line !== undefined) cpuModel = line.split(":")[1].trim();
  } catch {}
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { encoding: "utf8" }).trim();
    if (dirty !== "") commit += " (src/ modified)";
  } catch {}
  return {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpuModel,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    commit,
    command: `node bench/run.mjs ${process.argv.slice(2).join(" ")}`.trim(),
  };
}

/**
 * Ratio of `impl` to `ref` for one cell: the median over repeats of the ratio within each repeat (both measured
 * minutes apart at most), which cancels most of the machine's drift between repeats.
 */
function pairedRatio(rows, impl, ref, match, field) {
  const values = [];
  for (const r of rows) {
    if (r.impl !== impl || !match(r)) continue;
    const base = rows.find((b) => b.impl === ref && b.repeat === r.repeat && match(b));
    if (base !== undefined) values.push(r[field] / base[field]);
  }
  return median(values);
}

function aggregate(runs) {
  const groups = new Map();
  for (const r of runs) {
    const key = `${r.impl}|${r.n}|${r.size}|${r.pace}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  const cells = new Map();
  for (const [key, rs] of groups) {
    const { impl, n, size, pace } = rs[0];
    const m = (field) => median(rs.map((r) => r[field]));
    const same = (r) => r.n === n && r.size === size && r.pace === pace;
    cells.set(key, {
      impl,
      n,
      size,
      pace,
      repeats: rs.length,
      eventsPerSec: m("eventsPerSec"),
      eventsPerSecMin: Math.min(...rs.map((r) => r.eventsPerSec)),
      eventsPerSecMax: Math.max(...rs.map((r) => r.eventsPerSec)),
      cpuPer1k: m("cpuPer1k"),
      latencyP50Us: m("latencyP50Us"),
      latencyP99Us: m("latencyP99Us"),
      clientCpuPct: m("clientCpuPct"),
      foreignCoresMax: Math.max(...rs.map((r) => r.foreignCores ?? 0)),
      vsRaw: {
        eventsPerSec: pairedRatio(runs, impl, "raw", same, "eventsPerSec"),
        cpuPer1k: pairedRatio(runs, impl, "raw", same, "cpuPer1k"),
        latencyP50Us: pairedRatio(runs, impl, "raw", same, "latencyP50Us"),
        latencyP99Us: pairedRatio(runs, impl, "raw", same, "latencyP99Us"),
      },
      vsBetterSse: { eventsPerSec: pairedRatio(runs, impl, "better-sse", same, "eventsPerSec") },
      vsBaseline: {
        eventsPerSec: pairedRatio(runs, impl, "event-flare-base", same, "eventsPerSec"),
        cpuPer1k: pairedRatio(runs, impl, "event-flare-base", same, "cpuPer1k"),
      },
    });
  }
  return cells;
}

function aggregateMemory(mem) {
  const out = new Map();
  for (const impl of new Set(mem.map((r) => r.impl))) {
    const rs = mem.filter((r) => r.impl === impl);
    const all = () => true;
    out.set(impl, {
      impl,
      n: rs[0].n,
      repeats: rs.length,
      heapPerConn: median(rs.map((r) => r.heapPerConn)),
      rssPerConn: median(rs.map((r) => r.rssPerConn)),
      externalPerConn: median(rs.map((r) => r.externalPerConn)),
      vsRaw: {
        heapPerConn: pairedRatio(mem, impl, "raw", all, "heapPerConn"),
        rssPerConn: pairedRatio(mem, impl, "raw", all, "rssPerConn"),
      },
    });
  }
  return out;
}

const x = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : "–");

function markdown(info, cells, memory) {
  const lines = [];
  lines.push(`Machine: ${info.nproc} × ${info.cpuModel}, ${info.memoryGiB} GiB, ${info.platform}, Node ${info.node}.`);
  lines.push(
    `Date: ${info.date}. Commit: ${info.commit}; event-flare build ${info.eventFlareBuild.source} of ${info.eventFlareBuild.builtAt}, ` +
      `sha256 ${info.eventFlareBuild.distHash}. Command: \`${info.command}\`.`,
  );
  if (cells.size > 0 || memory.size > 0)
    lines.push(
      `M = ${M} broadcasts per cell; figures are medians of ${repeats} repeat(s); (min–max) is the events/s range over ` +
        "the repeats; × raw is the median over repeats of the ratio to raw node:http measured in the same cell of the " +
        "same repeat (seconds apart). Implementation order rotated cell by cell: " +
        `${rotateImpls ? "yes" : "no"}.`,
    );
  lines.push("");
  const order = IMPLEMENTATIONS.map((i) => i.key);
  for (const n of Ns) {
    const rows = [...cells.values()].filter((c) => c.n === n);
    if (rows.length === 0) continue;
    lines.push(`### N = ${n} clients`);
    lines.push("");
    lines.push(
      "| payload | pace | implementation | events/s | (min–max) | × raw | server CPU µs / 1000 events | × raw | latency p50 ms | p99 ms | p99 × raw | client CPU % |",
    );
    lines.push("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for (const size of payloads) {
      for (const pace of paces) {
        for (const key of order) {
          const c = cells.get(`${key}|${n}|${size}|${pace}`);
          if (c === undefined) continue;
          const label = IMPLEMENTATIONS.find((i) => i.key === key).label;
          const k = (v) => (Number.isFinite(v) ? `${Math.round(v / 1000)}k` : "–");
          lines.push(
            `| ${sizeLabel(size)} | ${pace} | ${label} | ${fmtInt(c.eventsPerSec)} | ${k(c.eventsPerSecMin)}–${k(c.eventsPerSecMax)} | ` +
              `${x(c.vsRaw.eventsPerSec)} | ${fmtInt(c.cpuPer1k)} | ${x(c.vsRaw.cpuPer1k)} | ${fmt(c.latencyP50Us / 1000)} | ` +
              `${fmt(c.latencyP99Us / 1000)} | ${x(c.vsRaw.latencyP99Us)} | ${fmt(c.clientCpuPct, 0)} |`,
          );
        }
      }
    }
    lines.push("");
  }
  if (memory.size > 0) {
    lines.push(`### Idle memory per connection (N = ${[...memory.values()][0].n}, after full GC)`);
    lines.push("");
    lines.push("| implementation | heap bytes / conn | × raw | RSS bytes / conn | × raw | external bytes / conn |");
    lines.push("|---|--:|--:|--:|--:|--:|");
    for (const key of order) {
      const m = memory.get(key);
      if (m === undefined) continue;
      const label = IMPLEMENTATIONS.find((i) => i.key === key).label;
      lines.push(
        `| ${label} | ${fmtInt(m.heapPerConn)} | ${x(m.vsRaw.heapPerConn)} | ${fmtInt(m.rssPerConn)} | ` +
          `${x(m.vsRaw.rssPerConn)} | ${fmtInt(m.externalPerConn)} |`,
      );
    }
    lines.push("");
  }
  const base = IMPLEMENTATIONS.find((i) => i.key === "event-flare-base");
  const againstBase = [...cells.values()].filter(
    (c) => c.impl === "event-flare" && Number.isFinite(c.vsBaseline.eventsPerSec),
  );
  if (base !== undefined && againstBase.length > 0) {
    lines.push(`### This build against ${base.label}, cell by cell`);
    lines.push("");
    lines.push("| N | payload | pace | events/s × baseline | server CPU per event × baseline |");
    lines.push("|--:|---|---|--:|--:|");
    for (const c of againstBase) {
      lines.push(
        `| ${c.n} | ${sizeLabel(c.size)} | ${c.pace} | ${x(c.vsBaseline.eventsPerSec)} | ${x(c.vsBaseline.cpuPer1k)} |`,
      );
    }
    lines.push("");
  }
  const targets = evaluateTargets(cells, memory);
  if (targets.length > 0) {
    lines.push("### Targets for event-flare");
    lines.push("");
    lines.push("| target | cell | measured | met |");
    lines.push("|---|---|--:|:-:|");
    for (const t of targets) lines.push(`| ${t.target} | ${t.cell} | ${t.measured} | ${t.met ? "yes" : "**no**"} |`);
    lines.push("");
  }
  return { text: lines.join("\n"), targets };
}

const sameCell = (n, size, pace) => (r) => r.n === n && r.size === size && r.pace === pace;
/** The raw runs, for targets that compare two implementations other than raw (set by save()). */
let runsForTargets = [];

function evaluateTargets(cells, memory) {
  const out = [];
  const get = (impl, n, size, pace) => cells.get(`${impl}|${n}|${size}|${pace}`);
  for (const n of Ns.filter((v) => v >= 1000)) {
    for (const size of payloads) {
      // The targets are defined for the immediate and burst paces; a steady pace is a latency probe.
      for (const pace of paces.filter((p) => p !== "steady")) {
        const ef = get("event-flare", n, size, pace);
        const cell = `N=${n}, ${sizeLabel(size)}, ${pace}`;
        if (ef === undefined) continue;
        const r = ef.vsRaw.eventsPerSec;
        if (Number.isFinite(r)) out.push({ target: "events/s ≥ 0.9× raw", cell, ratio: r, met: r >= 0.9 });
        const c = ef.vsRaw.cpuPer1k;
        if (Number.isFinite(c))
          out.push({ target: "CPU per delivered event ≤ 1.1× raw", cell, ratio: c, met: c <= 1.1 });
        const b = ef.vsBetterSse.eventsPerSec;
        if (pace === "burst" && Number.isFinite(b)) {
          out.push({ target: "burst events/s ≥ 4× better-sse", cell, ratio: b, met: b >= 4 });
        }
      }
    }
  }
  // The Fetch path against event-flare's node:http path, measured in the same cells.
  for (const size of payloads) {
    for (const pace of ["immediate", "burst"].filter((p) => paces.includes(p))) {
      const fetchCell = get("event-flare-fetch", 1000, size, pace);
      const nodeCell = get("event-flare", 1000, size, pace);
      if (fetchCell === undefined || nodeCell === undefined) continue;
      const r = pairedRatio(
        runsForTargets,
        "event-flare-fetch",
        "event-flare",
        sameCell(1000, size, pace),
        "eventsPerSec",
      );
      if (Number.isFinite(r)) {
        out.push({
          target: "Fetch path events/s ≥ 0.7× event-flare node:http",
          cell: `N=1000, ${sizeLabel(size)}, ${pace}`,
          ratio: r,
          met: r >= 0.7,
        });
      }
    }
  }
  for (const size of payloads) {
    const r = get("event-flare-fi10", 5000, size, "immediate")?.vsRaw.eventsPerSec;
    if (Number.isFinite(r)) {
      out.push({
        target: "flushInterval 10 events/s ≥ 2× raw (immediate)",
        cell: `N=5000, ${sizeLabel(size)}, immediate`,
        ratio: r,
        met: r >= 2,
      });
    }
  }
  const efMem = memory.get("event-flare");
  const h = efMem?.vsRaw.heapPerConn;
  if (Number.isFinite(h)) {
    out.push({ target: "heap per idle connection ≤ 1.2× raw", cell: `N=${efMem.n}`, ratio: h, met: h <= 1.2 });
  }
  return out.map((t) => ({ ...t, measured: `${t.ratio.toFixed(3)}×` }));
}

/**
 * Copies the built ESM package (dist/esm) aside and returns its entry and a hash of its files: every server child of
 * this run imports that copy, so a rebuild of dist/ during a long run cannot mix two versions into one result.
 */
function snapshotPackage(stamp) {
  const source = args.dist !== undefined ? path.resolve(String(args.dist)) : path.join(root, "dist", "esm");
  if (!existsSync(path.join(source, "index.js"))) throw new Error(`${source}/index.js is missing: run npm run build`);
  const target = path.join(resultsDir, `pkg-${stamp}`, "esm");
  cpSync(source, target, { recursive: true });
  const hash = createHash("sha256");
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".js")) hash.update(entry.name).update(readFileSync(full));
    }
  };
  walk(target);
  return {
    entry: path.join(target, "index.js"),
    source: path.relative(root, source),
    hash: hash.digest("hex").slice(0, 12),
    builtAt: statSync(path.join(source, "index.js")).mtime.toISOString(),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Main

const info = machineInfo();
const stamp = info.date.replace(/[:.]/g, "-");
mkdirSync(resultsDir, { recursive: true });
const pkg = snapshotPackage(stamp);
// The copy is only needed while children run.
process.on("exit", () => rmSync(path.dirname(path.dirname(pkg.entry)), { recursive: true, force: true }));
info.eventFlareBuild = { source: pkg.source, distHash: pkg.hash, builtAt: pkg.builtAt };
const jsonPath = path.join(resultsDir, `bench-${stamp}.json`);
const mdPath = path.join(resultsDir, `bench-${stamp}.md`);
const runs = [];
const mem = [];
/** The backplane section's result (backplane-section.mjs), once it ran. */
let backplane;
/** The runtimes section's result (runtimes-section.mjs), once it ran. */
let runtimes;
const settings = {
  quick,
  Ns,
  repeats,
  M,
  warmup: WARMUP,
  payloads,
  paces,
  memN,
  impls: impls.map((i) => i.key),
  pin,
  quietCores,
  maxAttempts,
  rotateImpls,
  backplane: runBackplane,
  runtimes: runRuntimes,
};

function save(status, error) {
  runsForTargets = runs;
  const cells = aggregate(runs);
  const memory = aggregateMemory(mem);
  const { text, targets } = markdown(info, cells, memory);
  writeFileSync(
    jsonPath,
    `${JSON.stringify(
      {
        status,
        error,
        info,
        settings,
        runs,
        memoryRuns: mem,
        medians: [...cells.values()],
        memory: [...memory.values()],
        targets,
        backplane,
        runtimes,
      },
      null,
      2,
    )}\n`,
  );
  let full = backplane === undefined ? text : `${text}\n${backplaneMarkdown(backplane)}`;
  if (runtimes !== undefined) full = `${full}\n${runtimesMarkdown(runtimes)}`;
  writeFileSync(mdPath, `${full}\n`);
  return full;
}

async function main() {
  log(`event-flare bench: ${JSON.stringify(settings)}`);
  log(`${info.nproc} × ${info.cpuModel}, node ${info.node}; results -> ${path.relative(process.cwd(), jsonPath)}`);
  const started = Date.now();
  for (let repeat = 0; repeat < repeats && !backplaneOnly; repeat++) {
    if (args["skip-mem"] !== true) {
      for (const impl of impls) {
        if (impl.memory === false) continue;
        mem.push(await memoryPhase(impl, memN, repeat));
        save("running");
      }
    }
    if (args["mem-only"] !== true) {
      for (const n of Ns) {
        runs.push(...(await throughputRound(n, repeat)));
        save("running");
      }
    }
  }
  // What the runtimes and backplane sections share with the throughput phase: its settings and its child machinery.
  const sectionContext = {
    args,
    log,
    Child,
    step,
    procStat,
    waitForQuiet,
    cellTimeoutMs,
    connectTimeoutMs,
    maxAttempts,
    retryCores,
  };
  if (runRuntimes) {
    runtimes = await runtimesSection(sectionContext);
    save("running");
  }
  if (runBackplane) {
    backplane = await backplaneSection({ ...sectionContext, pkg });
    save("running");
  }
  const text = save("complete");
  process.stdout.write(`\n${text}\n`);
  log(`done in ${fmt((Date.now() - started) / 60000, 1)} min; ${path.relative(process.cwd(), jsonPath)}`);
}

main().then(
  () => process.exit(0),
  (error) => {
    killAll();
    log(`\nBENCH FAILED: ${error.stack ?? error}`);
    try {
      save("failed", String(error.message ?? error));
      log(`partial results: ${path.relative(process.cwd(), jsonPath)}`);
    } catch {}
    process.exit(1);
  },
);
