// Where server CPU time goes: summarizes a .cpuprofile written by `node bench/run.mjs --cpu-prof=<impl> …`
// (server children run with --cpu-prof). Prints the top functions by self time, and self time grouped by origin
// (event-flare, rxjs, node internals, GC, idle, …). Only the sampled JS thread is covered; kernel time spent
// inside a syscall is attributed to the JS or native frame that made it.
//
//   node bench/profile-summary.mjs <file.cpuprofile> [top]
import { readFileSync } from "node:fs";

const [file, topText] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write("usage: node bench/profile-summary.mjs <file.cpuprofile> [top]\n");
  process.exit(2);
}
const top = Number(topText ?? 30);
const profile = JSON.parse(readFileSync(file, "utf8"));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfUs = new Map();
const deltas = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[i] ?? 0));
}

function origin(url, name) {
  if (name === "(garbage collector)") return "GC";
  if (name === "(idle)") return "idle";
  if (name === "(program)") return "(program: native, not attributed)";
  // run.mjs copies the build to bench/results/pkg-<date>/esm; --dist builds live in bench/results/build-<commit>/.
  if (/\/(dist|pkg-[^/]+|build-[^/]+)\/(esm|cjs|dist)\//.test(url) || url.includes("/event-flare/"))
    return "event-flare";
  if (url.includes("node_modules/rxjs")) return "rxjs";
  if (url.includes("better-sse")) return "better-sse";
  if (url.includes("sse-channel") || url.includes("eventsource-encoder")) return "sse-channel";
  if (url.includes("/bench/")) return "bench harness";
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0]}`;
  if (url === "") return "native / builtins";
  return url;
}

const functions = new Map();
const origins = new Map();
let total = 0;
for (const [id, us] of selfUs) {
  const node = byId.get(id);
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName || "(anonymous)";
  const short = url
    .replace(/^.*\/(pkg-[^/]+|build-[^/]+)\//, "event-flare/")
    .replace(/^.*\/(node_modules|bench)\//, "$1/");
  const key = `${name} ${short}:${lineNumber + 1}`;
  functions.set(key, (functions.get(key) ?? 0) + us);
  const o = origin(url, name);
  origins.set(o, (origins.get(o) ?? 0) + us);
  total += us;
}
const idle = origins.get("idle") ?? 0;
const busy = total - idle;
const pct = (us) => `${((100 * us) / busy).toFixed(1)} %`;
console.log(`profile ${file}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s not idle`);
console.log("\nself time by origin (share of non-idle time)");
for (const [o, us] of [...origins].sort((a, b) => b[1] - a[1])) {
  if (o !== "idle") console.log(`  ${pct(us).padStart(7)}  ${o}`);
}
console.log(`\ntop ${top} functions by self time`);
for (const [key, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  if (!key.startsWith("(idle)"))
    console.log(`  ${pct(us).padStart(7)}  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`);
}
