// The runtimes section of `npm run bench` (run.mjs): event-flare's Fetch path (`fromRequest`) on Node
// (@hono/node-server), Bun (Bun.serve) and Deno (Deno.serve), the same server code (fetch-runtime-server.mjs) and the
// same client (client.mjs, N verified connections in a Node child), measured side by side in the same run. No target:
// the figures say what each runtime's own HTTP server and streams cost, with event-flare on top.
//
//   node bench/run.mjs --only=runtimes    this section alone (under a minute, plus any wait for a quiet machine)
//   npm run bench                         the whole bench; this section runs after the throughput phase
//
// Flags (parsed by run.mjs): --rt-n=1000 clients  --rt-size=1024 payload bytes  --rt-m=200 broadcasts per cell
//   --rt-repeats=3  --rt-runtimes=node,bun,deno
// A runtime whose binary cannot run (the `bun` and `deno` npm dev dependencies) is skipped with a note.
// Server CPU is read from /proc/<pid>/stat (any runtime); latency = receive time − the time in the payload, with the
// server's clock aligned to the client's once at start (to about 0.1 ms: Bun's and Deno's hrtime start at 0).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { median, nowUs } from "./common.mjs";

export const RUNTIME_FLAGS = ["rt-n", "rt-size", "rt-m", "rt-repeats", "rt-runtimes"];

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const fmt = (v, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : "–");
const fmtInt = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "–");

/** How to start the server on each runtime, or why it cannot run here. */
function command(runtime) {
  const script = path.join(here, "fetch-runtime-server.mjs");
  if (runtime === "node") return { bin: process.execPath, args: [script] };
  const bin = path.join(root, "node_modules", ".bin", runtime);
  if (!existsSync(bin)) return { missing: `${bin} is missing (npm ci installs the "${runtime}" dev dependency)` };
  const version = spawnSync(bin, ["--version"], { encoding: "utf8" });
  if (version.status !== 0) return { missing: `${bin} --version failed: ${version.stderr ?? version.error}` };
  const args = runtime === "bun" ? [script] : ["run", "--allow-net", "--allow-env", "--allow-read", script];
  const [first = ""] = version.stdout.trim().split("\n");
  return {
    bin,
    args,
    version: first.startsWith(runtime) ? first.split(" ").slice(0, 2).join(" ") : `${runtime} ${first}`,
  };
}

/** User + system CPU of a process so far, in µs (Linux /proc). */
function cpuUs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  return (ticks * 1e6) / 100;
}

async function startServer(runtime, log) {
  const cmd = command(runtime);
  if (cmd.missing !== undefined) return { missing: cmd.missing };
  const child = spawn(cmd.bin, cmd.args, {
    cwd: root,
    env: { ...process.env, PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const origin = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${runtime} server did not start: ${output}`)), 30_000);
    const read = (chunk) => {
      output += chunk;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
    child.once("exit", (code) => reject(new Error(`${runtime} server exited with ${code}: ${output}`)));
  });
  const control = async (route) => (await fetch(`${origin}/control/${route}`)).json();
  // The server keeps the largest offset it hears: the sample that spent the least time in flight.
  for (let i = 0; i < 20; i++) await control(`clock?us=${nowUs()}`);
  log(`runtimes: ${runtime} server ${cmd.version ?? process.version} on ${origin}`);
  return {
    child,
    port: Number(new URL(origin).port),
    control,
    version: cmd.version ?? `node ${process.version}`,
    stop: () => {
      child.kill("SIGKILL");
    },
  };
}

/**
 * Runs the section. `ctx` comes from run.mjs: { args, log, Child, step, procStat, waitForQuiet, cellTimeoutMs,
 * connectTimeoutMs, maxAttempts, retryCores }.
 */
export async function runtimesSection(ctx) {
  const { args, log, Child, step } = ctx;
  const n = Number(args["rt-n"] ?? 1000);
  const size = Number(args["rt-size"] ?? 1024);
  const m = Number(args["rt-m"] ?? 200);
  const repeats = Number(args["rt-repeats"] ?? 3);
  const runtimes = String(args["rt-runtimes"] ?? "node,bun,deno").split(",");
  const paces = ["immediate", "burst"];
  const result = { settings: { n, size, m, repeats }, runtimes: {}, skipped: {} };
  for (const runtime of runtimes) {
    await ctx.waitForQuiet(`runtimes: ${runtime}`);
    const server = await startServer(runtime, log);
    if (server.missing !== undefined) {
      result.skipped[runtime] = server.missing;
      log(`runtimes: skipping ${runtime}: ${server.missing}`);
      continue;
    }
    const client = new Child(`client (${runtime})`, "client.mjs", { port: server.port, n });
    const rows = [];
    try {
      await step(client.next("connected", ctx.connectTimeoutMs));
      for (let count = 0; count < n; ) count = (await server.control("count")).count;
      let seq = 0;
      const measure = async (cellM, cellSize, pace) => {
        client.send({ cmd: "expect", seqStart: seq, m: cellM, size: cellSize });
        await step(client.next("armed", 60_000));
        const stat0 = ctx.procStat();
        const wall0 = Date.now();
        const cpu0 = cpuUs(server.child.pid);
        const { t0 } = await server.control(`run?seqStart=${seq}&m=${cellM}&size=${cellSize}&pace=${pace}`);
        const done = await step(client.next("cell-done", ctx.cellTimeoutMs));
        const cpu = cpuUs(server.child.pid) - cpu0;
        const stat1 = ctx.procStat();
        seq += cellM;
        const events = n * cellM;
        // CPU other processes used meanwhile (as run.mjs measures it): busy − irq − ours, per core of wall time.
        const foreign =
          stat0 === undefined || stat1 === undefined
            ? 0
            : Math.max(0, stat1.busy - stat0.busy - (stat1.irq - stat0.irq) - cpu - done.clientCpuUs) /
              ((Date.now() - wall0) * 1000);
        return {
          pace,
          eventsPerSec: events / ((done.tLast - t0) / 1e6),
          cpuPer1k: cpu / (events / 1000),
          p50Us: done.latency.p50,
          p99Us: done.latency.p99,
          foreignCores: foreign,
        };
      };
      // A cell disturbed by other processes is measured again (up to --attempts times); the least disturbed counts.
      const cell = async (cellM, cellSize, pace) => {
        let best;
        for (let attempt = 1; attempt <= ctx.maxAttempts; attempt++) {
          const row = await measure(cellM, cellSize, pace);
          if (best === undefined || row.foreignCores < best.foreignCores) best = row;
          if (row.foreignCores <= ctx.retryCores) break;
          log(`runtimes: ${runtime} ${pace}: other processes used ${fmt(row.foreignCores)} cores; measuring again`);
          await ctx.waitForQuiet(`runtimes: ${runtime} again`);
        }
        return best;
      };
      for (const pace of paces) await cell(20, 64, pace); // warm-up, discarded
      for (let r = 0; r < repeats; r++) {
        for (const pace of paces) {
          const row = await cell(m, size, pace);
          rows.push(row);
          log(
            `runtimes: ${runtime.padEnd(4)} ${pace.padEnd(9)} ${fmtInt(row.eventsPerSec).padStart(9)} ev/s, ` +
              `${fmt(row.cpuPer1k / 1000)} µs CPU/ev, p50 ${fmt(row.p50Us / 1000)} ms, p99 ${fmt(row.p99Us / 1000)} ms`,
          );
        }
      }
      client.send({ cmd: "verify", total: seq });
      const verified = await step(client.next("verified", 30_000));
      if (!verified.ok) throw new Error(`runtimes ${runtime}: verification failed: ${verified.errors.join("; ")}`);
    } finally {
      await client.stop();
      server.stop();
    }
    result.runtimes[runtime] = { version: server.version, cells: {} };
    for (const pace of paces) {
      const of = (field) => median(rows.filter((r) => r.pace === pace).map((r) => r[field]));
      result.runtimes[runtime].cells[pace] = {
        eventsPerSec: of("eventsPerSec"),
        cpuPer1k: of("cpuPer1k"),
        p50Us: of("p50Us"),
        p99Us: of("p99Us"),
      };
    }
  }
  return result;
}

export function runtimesMarkdown(result) {
  if (result === undefined) return "";
  const { n, size, m, repeats } = result.settings;
  const lines = ["### Runtimes: the Fetch path on Node, Bun and Deno", ""];
  lines.push(
    `event-flare's \`fromRequest\` on each runtime's own server (Node: @hono/node-server), N = ${n} clients, ` +
      `${size} B events, ${m} broadcasts per cell, medians of ${repeats}; × Node is events/s against the Node row.`,
  );
  lines.push("");
  lines.push("| runtime | pace | events/s | × Node | server CPU µs / 1000 events | latency p50 ms | p99 ms |");
  lines.push("|---|---|--:|--:|--:|--:|--:|");
  for (const { version, cells } of Object.values(result.runtimes)) {
    for (const [pace, c] of Object.entries(cells)) {
      const node = result.runtimes.node?.cells[pace]?.eventsPerSec;
      const ratio = Number.isFinite(node) ? `${(c.eventsPerSec / node).toFixed(2)}×` : "–";
      lines.push(
        `| ${version} | ${pace} | ${fmtInt(c.eventsPerSec)} | ${ratio} | ${fmtInt(c.cpuPer1k)} | ` +
          `${fmt(c.p50Us / 1000)} | ${fmt(c.p99Us / 1000)} |`,
      );
    }
  }
  for (const [runtime, why] of Object.entries(result.skipped)) lines.push(`\n${runtime} skipped: ${why}.`);
  lines.push("");
  return lines.join("\n");
}
