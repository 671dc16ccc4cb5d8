// Scale benchmark: event-flare at 1k / 5k / 10k / 18k connections, this build next to an older one and raw node:http.
//
//   npm run bench:scale                 builds, then the whole run (about 15 minutes)
//   node bench/scale.mjs --levels=1000,5000 --hb-periods=1   a shorter run
//
// Flags: --levels=1000,5000,10000,18000  --before=<commit> (default: where this branch left main; "none" to skip)
//        --hb-ms=30000 (heartbeatInterval)  --hb-periods=3 (periods watched at the largest level; 1 below it)
//        --broadcasts=9 --size=1024 (broadcast phase)  --slices=500,1000,2000 (extra flushSliceSize values measured in
//        the broadcast phase at the largest level; the default and Infinity always are)
//        --storm-clients=2000 --storm-events=500 --storm-size=100  --history-channels=10000 --history-events=100
//        --history-size=100  --quiet-cores=0.15 --quiet-wait=900
//        --only=broadcast (only the broadcast phase of this build, its flushSliceSize values and raw: for choosing K)
//
// Per level and contender, a server child (bench/scale-server.mjs) and a client child (bench/client.mjs, which checks
// every event of every connection) are started; the server is measured alone: heap and RSS per connection (full GC
// before connecting and after), the event loop's max delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution) while
// idle sessions get their heartbeats, and for each broadcast of one event to every connection the time from the call
// in the server to the last client's read (both CLOCK_MONOTONIC) and the max delay meanwhile. Then memory per kept
// history event (bench/scale-history.mjs) and a reconnect storm, for each build.
import { execFileSync, fork } from "node:child_process";
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildCommit } from "./build-commit.mjs";
import { median } from "./common.mjs";
import { busyUs, waitForQuiet } from "./quiet.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const args = Object.fromEntries(
  process.argv.slice(2).map((arg) => {
    const match = /^--([^=]+)(?:=(.*))?$/.exec(arg);
    if (match === null) throw new Error(`unknown argument ${arg}`);
    return [match[1], match[2] ?? "true"];
  }),
);
const list = (value) => String(value).split(",").filter(Boolean);
const levels = list(args.levels ?? "1000,5000,10000,18000").map(Number);
const largest = Math.max(...levels);
const hbMs = Number(args["hb-ms"] ?? 30_000);
const hbPeriods = Number(args["hb-periods"] ?? 3);
const broadcasts = Number(args.broadcasts ?? 9);
const size = Number(args.size ?? 1024);
const extraSlices = list(args.slices ?? "500,1000,2000").map(Number);
const storm = { clients: Number(args["storm-clients"] ?? 2000), events: Number(args["storm-events"] ?? 500) };
storm.size = Number(args["storm-size"] ?? 100);
const history = {
  channels: Number(args["history-channels"] ?? 10_000),
  events: Number(args["history-events"] ?? 100),
  size: Number(args["history-size"] ?? 100),
};
const broadcastOnly = args.only === "broadcast";
const quiet = { cores: Number(args["quiet-cores"] ?? 0.15), maxWaitMs: Number(args["quiet-wait"] ?? 900) * 1000 };
const log = (line) => process.stderr.write(`${line}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const git = (...a) => execFileSync("git", a, { cwd: root, encoding: "utf8" }).trim();

// ---------------------------------------------------------------------------------------------------------------
// Builds: this one (copied aside, so a rebuild during the run cannot mix versions) and the one before.

const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const resultsDir = path.join(here, "results");
const ownCopy = path.join(resultsDir, `scale-pkg-${stamp}`);
cpSync(path.join(root, "dist", "esm"), path.join(ownCopy, "esm"), { recursive: true });
process.on("exit", () => rmSync(ownCopy, { recursive: true, force: true }));
const beforeCommit = args.before ?? git("merge-base", "HEAD", "main");
const builds = [
  { key: "after", label: `event-flare ${git("rev-parse", "--short", "HEAD")}`, entry: `${ownCopy}/esm/index.js` },
];
if (beforeCommit !== "none" && !broadcastOnly) {
  builds.push({
    key: "before",
    label: `event-flare ${git("rev-parse", "--short", beforeCommit)} (before)`,
    entry: buildCommit(beforeCommit),
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Children: killed on every way out, never waited on without a timeout.

const live = new Set();
process.on("exit", () => {
  for (const proc of live) proc.kill("SIGKILL");
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(130));

class Child {
  constructor(label, script, config) {
    this.label = label;
    this.queue = [];
    this.waiters = [];
    this.failure = undefined;
    this.proc = fork(path.join(here, script), [JSON.stringify(config)], {
      execArgv: ["--expose-gc", "--max-old-space-size=8192"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    live.add(this.proc);
    this.proc.on("message", (msg) => {
      if (msg.type === "error") return this.fail(new Error(`${label}: ${msg.message}`));
      const i = this.waiters.findIndex((w) => w.type === msg.type);
      if (i === -1) this.queue.push(msg);
      else this.waiters.splice(i, 1)[0].resolve(msg);
    });
    this.proc.on("exit", (code) => {
      live.delete(this.proc);
      if (!this.stopping) this.fail(new Error(`${label} exited (${code})`));
    });
  }

  fail(error) {
    this.failure = error;
    for (const w of this.waiters.splice(0)) w.reject(error);
  }

  next(type, timeoutMs = 120_000) {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const i = this.queue.findIndex((m) => m.type === type);
    if (i !== -1) return Promise.resolve(this.queue.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.label}: no "${type}" in ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
      this.waiters.push({
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  ask(cmd, type, timeoutMs) {
    const reply = this.next(type, timeoutMs);
    this.proc.send(cmd);
    return reply;
  }

  async stop() {
    this.stopping = true;
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((resolve) => this.proc.once("exit", resolve));
    try {
      this.proc.send({ cmd: "exit" });
    } catch {}
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Machine-wide cores used over a window (ours included): how disturbed a measurement was. */
function machineLoad() {
  const a = busyUs();
  const t = Date.now();
  return () => {
    const b = busyUs();
    return a === undefined || b === undefined ? undefined : (b - a) / ((Date.now() - t) * 1000);
  };
}

// ---------------------------------------------------------------------------------------------------------------
// One contender at one level.

async function level({ key, label, config }, n, { heartbeats, periods, memory }) {
  await waitForQuiet({ ...quiet, log });
  const server = new Child(`server ${key} N=${n}`, "scale-server.mjs", { heartbeatMs: hbMs, ...config });
  let client;
  const out = { contender: key, label, n };
  try {
    const { port } = await server.next("listening", 30_000);
    const before = await server.ask({ cmd: "mem" }, "mem");
    client = new Child(`client ${key} N=${n}`, "client.mjs", { port, n, concurrency: 500 });
    const connected = server.ask({ cmd: "wait-clients", n }, "clients", 300_000);
    out.connectMs = (await client.next("connected", 300_000)).ms;
    await connected;
    await sleep(1000);
    if (memory) {
      const after = await server.ask({ cmd: "mem" }, "mem");
      out.heapPerConn = (after.memory.heapUsed - before.memory.heapUsed) / n;
      out.rssPerConn = (after.memory.rss - before.memory.rss) / n;
    }
    if (heartbeats) {
      // Idle: nothing is sent but heartbeats, for `periods` whole periods.
      await client.ask({ cmd: "gaps-reset" }, "gaps-reset");
      const load = machineLoad();
      await server.ask({ cmd: "eld-start" }, "eld-started");
      await sleep(periods * hbMs + 1500);
      const eld = await server.ask({ cmd: "eld-stop" }, "eld");
      const gaps = await client.ask({ cmd: "gaps", limitMs: hbMs }, "gaps");
      out.heartbeat = { periods, maxMs: eld.maxMs, p99Ms: eld.p99Ms, cpuUs: eld.cpuUs, machineCores: load() };
      out.heartbeat.maxSilenceMs = gaps.maxGapMs;
      out.heartbeat.silentOverPeriod = gaps.over;
      log(
        `${label} N=${n}: heartbeats over ${periods} × ${hbMs / 1000} s: max delay ${eld.maxMs.toFixed(1)} ms ` +
          `(p99 ${eld.p99Ms.toFixed(1)}), longest silence on a stream ${gaps.maxGapMs.toFixed(0)} ms`,
      );
    }
    out.broadcasts = [];
    for (let seq = 0; seq < broadcasts; seq++) {
      await client.ask({ cmd: "expect", seqStart: seq, m: 1, size }, "armed");
      await sleep(300);
      const load = machineLoad();
      await server.ask({ cmd: "eld-start" }, "eld-started");
      // The histogram records from its timer's second tick on: a stall before that would go unseen.
      await sleep(20);
      const done = client.next("cell-done", 120_000);
      const sent = await server.ask({ cmd: "broadcast", seq, size }, "broadcast-done");
      const last = await done;
      await sleep(50);
      const eld = await server.ask({ cmd: "eld-stop" }, "eld");
      out.broadcasts.push({
        lastClientMs: (last.tLast - sent.t0) / 1000,
        callMs: (sent.tEnd - sent.t0) / 1000,
        maxMs: eld.maxMs,
        machineCores: load(),
      });
    }
    const verified = await client.ask({ cmd: "verify", total: broadcasts }, "verified", 60_000);
    if (!verified.ok) throw new Error(`${label} N=${n}: ${verified.errors.join("; ")}`);
    out.lastClientMs = median(out.broadcasts.map((b) => b.lastClientMs));
    out.broadcastMaxMs = Math.max(...out.broadcasts.map((b) => b.maxMs));
    log(
      `${label} N=${n}: broadcast to the last client ${out.lastClientMs.toFixed(1)} ms (median of ${broadcasts}), ` +
        `max delay ${out.broadcastMaxMs.toFixed(1)} ms` +
        (out.heapPerConn !== undefined
          ? `; heap ${Math.round(out.heapPerConn)} B/conn, RSS ${Math.round(out.rssPerConn)} B/conn`
          : ""),
    );
    return out;
  } finally {
    await client?.stop();
    await server.stop();
  }
}

async function historyMemory(build) {
  await waitForQuiet({ ...quiet, log });
  const child = new Child(`history ${build.key}`, "scale-history.mjs", { entry: build.entry, ...history });
  try {
    const result = await child.next("history", 300_000);
    log(`${build.label}: history ${result.totalPerEvent.toFixed(0)} B per kept event (heap + arrayBuffers)`);
    return { contender: build.key, label: build.label, ...result };
  } finally {
    await child.stop();
  }
}

async function reconnectStorm(build) {
  await waitForQuiet({ ...quiet, log });
  const server = new Child(`storm server ${build.key}`, "scale-server.mjs", {
    impl: "event-flare",
    entry: build.entry,
    heartbeatMs: hbMs,
    historySize: storm.events,
  });
  let client;
  try {
    const { port } = await server.next("listening", 30_000);
    const { lastEventId } = await server.ask(
      { cmd: "publish", seqStart: 1, m: storm.events, size: storm.size },
      "published",
    );
    await server.ask({ cmd: "mem" }, "mem");
    const load = machineLoad();
    await server.ask({ cmd: "eld-start" }, "eld-started");
    await sleep(20);
    client = new Child(`storm client ${build.key}`, "client.mjs", {
      port,
      n: storm.clients,
      concurrency: storm.clients,
      lastEventId,
      seqStart: 1,
      armed: { m: storm.events, size: storm.size },
    });
    const done = await client.next("cell-done", 300_000);
    const eld = await server.ask({ cmd: "eld-stop" }, "eld");
    const result = {
      contender: build.key,
      label: build.label,
      ...storm,
      allReplayedMs: done.clientWallUs / 1000,
      events: done.events,
      maxMs: eld.maxMs,
      serverCpuMs: eld.cpuUs / 1000,
      machineCores: load(),
    };
    log(
      `${build.label}: storm of ${storm.clients} × ${storm.events}: all replayed in ${result.allReplayedMs.toFixed(0)} ms, max delay ${eld.maxMs.toFixed(1)} ms`,
    );
    return result;
  } finally {
    await client?.stop();
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The run, and its report.

const fmt = (v, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : "–");
const int = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "–");

function report(info, runs, histories, storms) {
  const lines = [];
  lines.push(
    `Machine: ${info.cpus}, ${info.memoryGiB} GiB, Node ${info.node}. Date ${info.date}. Commit ${info.commit}.`,
  );
  lines.push(
    `Command: \`${info.command}\`. heartbeatInterval ${hbMs} ms; broadcast data ${size} B; ${broadcasts} broadcasts per level.`,
  );
  lines.push("");
  lines.push(
    "| connections | server | heap B / conn | RSS B / conn | heartbeats: max event-loop delay ms (periods) | longest silence on a stream ms | broadcast: last client ms | × raw | × unbounded turn | broadcast: max event-loop delay ms |",
  );
  lines.push("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|");
  for (const n of levels) {
    const raw = runs.find((r) => r.n === n && r.contender === "raw");
    const unbounded = runs.find((r) => r.n === n && r.contender === "after-slice-Infinity");
    for (const r of runs.filter((x) => x.n === n)) {
      const hb = r.heartbeat;
      lines.push(
        `| ${int(n)} | ${r.label} | ${int(r.heapPerConn)} | ${int(r.rssPerConn)} | ` +
          `${hb === undefined ? "" : `${fmt(hb.maxMs)} (${hb.periods})`} | ${hb === undefined ? "" : int(hb.maxSilenceMs)} | ` +
          `${fmt(r.lastClientMs)} | ${fmt(r.lastClientMs / raw?.lastClientMs, 2)}× | ` +
          `${r.contender.startsWith("after") ? `${fmt(r.lastClientMs / unbounded?.lastClientMs, 2)}×` : ""} | ${fmt(r.broadcastMaxMs)} |`,
      );
    }
  }
  lines.push("");
  lines.push(
    `History: ${history.channels.toLocaleString("en-US")} channels × ${history.events} kept events of ${history.size} B data (frame ${histories[0]?.frameBytes} B).`,
  );
  lines.push("");
  lines.push("| build | heap B / event | arrayBuffers B / event | heap + arrayBuffers B / event | RSS B / event |");
  lines.push("|---|--:|--:|--:|--:|");
  for (const h of histories) {
    lines.push(
      `| ${h.label} | ${fmt(h.heapPerEvent, 0)} | ${fmt(h.arrayBuffersPerEvent, 0)} | **${fmt(h.totalPerEvent, 0)}** | ${fmt(h.rssPerEvent, 0)} |`,
    );
  }
  lines.push("");
  lines.push(
    `Reconnect storm: ${storm.clients.toLocaleString("en-US")} clients at once, each replaying ${storm.events} events of ${storm.size} B.`,
  );
  lines.push("");
  lines.push("| build | all replayed ms | server CPU ms | max event-loop delay ms |");
  lines.push("|---|--:|--:|--:|");
  for (const s of storms)
    lines.push(`| ${s.label} | ${int(s.allReplayedMs)} | ${int(s.serverCpuMs)} | ${fmt(s.maxMs)} |`);
  return lines.join("\n");
}

async function main() {
  const started = Date.now();
  const info = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: `${os.availableParallelism()} × ${os.cpus()[0]?.model}`,
    memoryGiB: Math.round(os.totalmem() / 2 ** 29) / 2,
    commit: `${git("rev-parse", "--short", "HEAD")}${git("status", "--porcelain", "--", "src") === "" ? "" : " (src/ modified)"}`,
    command: `node bench/scale.mjs ${process.argv.slice(2).join(" ")}`.trim(),
    builds: builds.map(({ key, label }) => ({ key, label })),
  };
  log(`scale bench: levels ${levels.join(", ")}; ${builds.map((b) => b.label).join(" vs ")}; heartbeat ${hbMs} ms`);
  const runs = [];
  const save = (histories = [], storms = []) => {
    const text = report(info, runs, histories, storms);
    writeFileSync(
      path.join(resultsDir, `scale-${stamp}.json`),
      `${JSON.stringify({ info, runs, histories, storms }, null, 2)}\n`,
    );
    writeFileSync(path.join(resultsDir, `scale-${stamp}.md`), `${text}\n`);
    return text;
  };
  mkdirSync(resultsDir, { recursive: true });
  for (const n of levels) {
    const periods = n === largest ? hbPeriods : 1;
    runs.push(await level({ key: "raw", label: "raw node:http", config: { impl: "raw" } }, n, { memory: true }));
    for (const build of builds) {
      const contender = { key: build.key, label: build.label, config: { impl: "event-flare", entry: build.entry } };
      runs.push(await level(contender, n, { heartbeats: !broadcastOnly, periods, memory: true }));
      save();
    }
    const slices = n === largest ? ["Infinity", ...extraSlices] : ["Infinity"];
    for (const slice of slices) {
      const key = `after-slice-${slice}`;
      const config = {
        impl: "event-flare",
        entry: builds[0].entry,
        flushSliceSize: slice === "Infinity" ? "Infinity" : slice,
      };
      runs.push(await level({ key, label: `${builds[0].label}, flushSliceSize ${slice}`, config }, n, {}));
      save();
    }
  }
  const histories = [];
  const storms = [];
  if (!broadcastOnly) {
    for (const build of builds) histories.push(await historyMemory(build));
    for (const build of builds) storms.push(await reconnectStorm(build));
  }
  const text = save(histories, storms);
  process.stdout.write(`\n${text}\n`);
  log(`done in ${((Date.now() - started) / 60_000).toFixed(1)} min; bench/results/scale-${stamp}.json`);
}

main().then(
  () => process.exit(0),
  (error) => {
    log(`\nSCALE BENCH FAILED: ${error.stack ?? error}`);
    process.exit(1);
  },
);
