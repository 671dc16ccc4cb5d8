// Redis backplane: which delivery path? Every channel is one Redis stream (XADD … MAXLEN ~ 100); each node must
// deliver every new entry of the channels it follows, in order, exactly once. Two paths are measured on a private
// redis-server (127.0.0.1, no persistence) with 2 node processes and 1 publisher process:
//   A "XREAD BLOCK":      each node loops `XREAD BLOCK 0 COUNT 512 STREAMS k1..kn id1..idn` on ONE connection,
//                         keeping per-stream last-seen ids; publishers XADD.
//   B "PUBLISH + stream": publishers EVALSHA one script (XADD, then PUBLISH id + data on a channel per stream);
//                         each node SUBSCRIBEs to its n channels on one connection and delivers from the payload.
// Tests: 1. latency publish→receive at 50 events/s for 10 s, n = 1 and 1000 channels (round-robin);
//        2. burst: 100,000 events of 1 KiB pipelined in batches of 1000, n = 1 and 100: events/s received by the
//           slower node (from the first publish), Redis CPU (INFO cpu user+sys) and node CPU per 1000 events;
//        3. adding a channel to a running node (its stream already holds one entry): A = CLIENT UNBLOCK the reader
//           and re-issue XREAD with the new key; B = SUBSCRIBE + XRANGE catch-up. Time until that entry is delivered.
// Every node checks each channel's events (global index i, channel i % n): missed = gaps, dup = repeated/reordered.
//   node bench/backplane-paths.mjs [--tests=latency,burst,add] [--maxlen=100] [--redis-server=redis-server]
// (about 1 minute on 2 cores; starts its own redis-server on a free 127.0.0.1 port, stops it and exits by itself)
import { fork, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "redis";

const arg = (name, dflt) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
const role = arg("role", "main");
const now = () => Number(process.hrtime.bigint()) / 1e6; // ms on CLOCK_MONOTONIC: comparable across processes
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tick = () => new Promise((r) => setImmediate(r));
const SIZE = 1024;
const MAXLEN = arg("maxlen", "100");
const XADD = (k, payload) => ["XADD", k, "MAXLEN", "~", MAXLEN, "*", "d", payload];
const SCRIPT = `local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', '${MAXLEN}', '*', 'd', ARGV[1])
  redis.call('PUBLISH', KEYS[1], id .. ' ' .. ARGV[1]) return id`;
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

async function connect(url, onError) {
  const c = createClient({ url, RESP: 2, socket: { reconnectStrategy: false } });
  c.on("error", onError ?? ((e) => console.error(`${role}: redis error: ${e.message}`)));
  await c.connect();
  return c;
}

// ---- node: one reader loop (path A or B) over channels ch:0 … ch:n-1; reports to the orchestrator over IPC ----
async function runNode() {
  const [url, mode, n, total] = [arg("url"), arg("path"), Number(arg("n")), Number(arg("total"))];
  const keys = Array.from({ length: n }, (_, c) => `ch:${c}`);
  const ids = keys.map(() => "0-0"); // last-seen id per stream: streams are empty when the node starts
  const idx = new Map(keys.map((k, c) => [k, c]));
  const last = new Array(n).fill(-1); // last global event index seen per channel
  const lastOf = (c) => c + n * Math.floor((total - 1 - c) / n); // final event index of channel c
  const s = { received: 0, missed: 0, dup: 0, errors: 0, complete: false, lat: [], lastT: 0 };
  let finished = 0;
  let onNew = null; // waiter for test 3: first delivery on an added channel
  const fail = (e) => {
    s.errors++;
    console.error(`node ${mode}: ${e.message}`);
  };
  const report = () => {
    const u = process.cpuUsage(cpu0);
    process.send({ ...s, cpuMs: (u.user + u.system) / 1000 });
  };
  const idGt = (a, b) => {
    const [x, y] = [a, b].map((id) => id.split("-").map(BigInt));
    return x[0] > y[0] || (x[0] === y[0] && x[1] > y[1]);
  };
  const deliver = (c, id, data, t) => {
    if (!idGt(id, ids[c])) return void s.dup++; // already delivered (pub/sub vs catch-up overlap)
    ids[c] = id;
    if (c >= n) return onNew?.(t); // test 3: an added channel
    const sp = data.indexOf(" ");
    const i = Number(data.slice(0, sp));
    s.lat.push(t - Number(data.slice(sp + 1, data.indexOf(" ", sp + 1))));
    const expect = last[c] < 0 ? c : last[c] + n;
    if (i < expect) return void s.dup++;
    s.missed += (i - expect) / n;
    last[c] = i;
    s.received++;
    s.lastT = t;
    if (i === lastOf(c) && ++finished === Math.min(n, total) && !s.complete) {
      s.complete = true;
      report();
    }
  };
  const cpu0 = process.cpuUsage();
  const data = await connect(url, fail);
  const follow = (k) => {
    idx.set(k, keys.length);
    keys.push(k);
    ids.push("0-0");
  };
  let addChannel; // (key) => Promise: follow one more stream, resuming from "0-0"
  if (mode === "A") {
    const rd = await connect(url, fail);
    const clientId = String(await rd.sendCommand(["CLIENT", "ID"]));
    let version = 0;
    let inflight = 0; // key-set version of the XREAD in flight
    (async () => {
      for (;;) {
        inflight = version;
        const r = await rd.sendCommand(["XREAD", "BLOCK", "0", "COUNT", "512", "STREAMS", ...keys, ...ids]);
        const t = now();
        for (const [k, entries] of r ?? []) for (const [id, f] of entries) deliver(idx.get(k), id, f[1], t);
      }
    })().catch(fail);
    s.unblockRetries = 0;
    addChannel = async (k) => {
      follow(k);
      version++;
      // The XREAD in flight may not be blocked yet (UNBLOCK then returns 0): retry until one with the new key runs.
      for (let unblocked = false; inflight < version; await tick()) {
        if (!unblocked) unblocked = (await data.sendCommand(["CLIENT", "UNBLOCK", clientId])) === 1;
        if (!unblocked) s.unblockRetries++;
      }
    };
  } else {
    const sub = await connect(url, fail);
    const listener = (msg, ch) => {
      const sp = msg.indexOf(" ");
      deliver(idx.get(ch), msg.slice(0, sp), msg.slice(sp + 1), now());
    };
    await sub.subscribe(keys, listener);
    addChannel = async (k) => {
      follow(k);
      await sub.subscribe(k, listener);
      const entries = await data.sendCommand(["XRANGE", k, "(0-0", "+"]); // catch-up from the last-seen id
      const t = now();
      for (const [id, f] of entries) deliver(idx.get(k), id, f[1], t);
    };
  }
  process.on("message", async (m) => {
    if (m.op === "report") return report();
    if (m.op !== "add") return;
    const times = [];
    for (let j = 0; j < m.count; j++) {
      const k = `new:${j}`;
      await data.sendCommand(XADD(k, "first"));
      const got = new Promise((r) => {
        onNew = r;
      });
      const t0 = now();
      await addChannel(k);
      times.push((await got) - t0);
      await sleep(5); // let the reader block again
    }
    process.send({ times, unblockRetries: s.unblockRetries ?? 0 });
  });
  process.send({ ready: true });
}

// ---- publisher: event i goes to channel i % n; payload "i t padding" (1 KiB); paced or burst ----
async function runPublisher() {
  const [url, mode, n, total, rate] = [arg("url"), arg("path"), Number(arg("n")), Number(arg("total")), arg("rate")];
  const c = await connect(url);
  const sha = mode === "B" ? await c.sendCommand(["SCRIPT", "LOAD", SCRIPT]) : null;
  const pad = "x".repeat(SIZE);
  const send = (i) => {
    const head = `${i} ${now()} `;
    const payload = head + pad.slice(head.length);
    const k = `ch:${i % n}`;
    return c.sendCommand(sha ? ["EVALSHA", sha, "1", k, payload] : XADD(k, payload));
  };
  const start = now();
  if (rate) {
    for (let i = 0; i < total; i++) {
      await sleep(start + (i * 1000) / Number(rate) - now());
      await send(i);
    }
  } else {
    const batch = 1000; // many commands in flight: node-redis pipelines those written in the same tick
    for (let b = 0; b < total; b += batch) {
      await Promise.all(Array.from({ length: Math.min(batch, total - b) }, (_, j) => send(b + j)));
    }
  }
  process.send({ start, end: now() });
  await c.close();
}

// ---- orchestrator ----
async function main() {
  const self = fileURLToPath(import.meta.url);
  const port = await new Promise((r) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => r(port));
    });
  });
  const dir = mkdtempSync(path.join(os.tmpdir(), "bppaths-"));
  const args = ["--port", `${port}`, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir];
  const server = spawn(arg("redis-server", "redis-server"), args, { stdio: "ignore" });
  const children = new Set();
  process.on("exit", () => {
    for (const ch of children) ch.kill("SIGKILL");
    server.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  const watchdog = setTimeout(() => process.exit(console.error("backplane-paths: timed out (300 s)") ?? 2), 300_000);
  const url = `redis://127.0.0.1:${port}`;
  let admin;
  for (let t = 0; !admin; t++) {
    await sleep(100); // until redis-server listens (5 s at most)
    admin = await connect(url).catch((e) => (t < 50 ? null : Promise.reject(e)));
  }
  const info = async (section, field) =>
    Number((await admin.sendCommand(["INFO", section])).match(new RegExp(`${field}:([\\d.]+)`))[1]);
  const version = (await admin.sendCommand(["INFO", "server"])).match(/redis_version:(\S+)/)[1];
  const redisCpu = async () => (await info("cpu", "used_cpu_user")) + (await info("cpu", "used_cpu_sys"));
  const start = (opts) => {
    const argv = Object.entries({ ...opts, url, maxlen: MAXLEN }).map(([k, v]) => `--${k}=${v}`);
    const ch = fork(self, argv);
    children.add(ch);
    ch.on("exit", () => children.delete(ch));
    return ch;
  };
  const next = async (ch, ms = 60_000) => (await once(ch, "message", { signal: AbortSignal.timeout(ms) }))[0];
  const rows = [];
  const fmt = (x) => (Number.isFinite(x) ? x.toFixed(2) : "-");
  const row = (mode, test, n, ms, more) => {
    const [p50, p99, max] = [pct(ms, 50), pct(ms, 99), ms.at(-1)].map(fmt);
    rows.push({ path: mode, test, n, p50, p99, max, ...more });
  };

  async function flow(mode, n, total, rate, test) {
    await admin.sendCommand(["FLUSHALL"]);
    const nodes = [0, 1].map(() => start({ role: "node", path: mode, n, total }));
    await Promise.all(nodes.map((ch) => next(ch)));
    const cpu0 = await redisCpu();
    const results = Promise.all(nodes.map((ch) => next(ch, 200_000)));
    const pub = start({ role: "publisher", path: mode, n, total, ...(rate ? { rate } : {}) });
    const p = await next(pub, 120_000);
    // A node reports once it has every channel's last event; one that never does (disconnected) is asked 15 s later.
    const nudge = setTimeout(() => {
      for (const ch of nodes) ch.send({ op: "report" });
    }, 15_000);
    const res = await results;
    clearTimeout(nudge);
    const redisMs = ((await redisCpu()) - cpu0) * 1000;
    for (const ch of [...nodes, pub]) ch.kill();
    const lat = res.flatMap((r) => r.lat).sort((a, b) => a - b);
    const slower = Math.min(...res.map((r) => r.received / ((r.lastT - p.start) / 1000)));
    row(mode, test, n, lat, {
      "pub ev/s": rate ? "-" : Math.round(total / ((p.end - p.start) / 1000)),
      "recv ev/s (slower node)": rate ? "-" : Math.round(slower),
      "Redis CPU ms/1k": fmt((redisMs / total) * 1000),
      "node CPU ms/1k": fmt((Math.max(...res.map((r) => r.cpuMs)) / total) * 1000),
      "missed/dup/err": res.map((r) => `${r.missed}/${r.dup}/${r.errors}${r.complete ? "" : "!"}`).join(" "),
    });
  }

  async function adds(mode, n, count) {
    await admin.sendCommand(["FLUSHALL"]);
    const node = start({ role: "node", path: mode, n, total: 0 });
    await next(node);
    await sleep(50);
    node.send({ op: "add", count });
    const r = await next(node);
    node.kill();
    const t = r.times.sort((a, b) => a - b);
    row(mode, `add ${count}x`, n, t, { note: mode === "A" ? `UNBLOCK retries ${r.unblockRetries}` : "" });
  }

  const tests = arg("tests", "latency,burst,add").split(",");
  const both = async (ns, fn) => {
    for (const n of ns) for (const m of ["A", "B"]) await fn(m, n);
  };
  if (tests.includes("latency")) await both([1, 1000], (m, n) => flow(m, n, 500, 50, "latency 50/s"));
  if (tests.includes("burst")) await both([1, 100], (m, n) => flow(m, n, 100_000, 0, "burst 100k"));
  if (tests.includes("add")) await both([1, 1000], (m, n) => adds(m, n, 200));

  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cpus = os.cpus().length;
  console.log(`Redis ${version}, node ${process.version}, ${cpus} CPUs, MAXLEN ~ ${MAXLEN}; latencies in ms\n`);
  console.log(`| ${cols.join(" | ")} |\n|${cols.map(() => " --- |").join("")}`);
  for (const r of rows) console.log(`| ${cols.map((c) => r[c] ?? "").join(" | ")} |`);
  console.log("\nmissed/dup/err: per node; '!' = that node never saw every channel's last event");
  clearTimeout(watchdog);
  await admin.close();
  const procs = [server, ...children]; // stop and reap them all before leaving
  for (const ch of procs) ch.kill();
  await Promise.all(procs.map((ch) => ch.exitCode ?? ch.signalCode ?? once(ch, "exit")));
  process.exit(0);
}

process.on("disconnect", () => process.exit(0)); // children: the orchestrator is gone
await (role === "node" ? runNode() : role === "publisher" ? runPublisher() : main());
