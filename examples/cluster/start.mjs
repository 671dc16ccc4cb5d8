// The cluster example: two event-flare nodes on one Redis backplane, behind a TCP balancer with no sticky sessions.
// It starts a private redis-server (a free loopback port, a temporary directory, appendonly yes), two node processes
// (node.mjs) and the balancer (balancer.mjs), and prints the balancer's address. Open it, kill the node that serves
// the page (its pid is printed, or POST /crash to it when EXAMPLE_ALLOW_CRASH=1), and watch the page move to the
// other node with "missing: 0". Ctrl-C or SIGTERM stops everything and removes the temporary directory. (If this
// process is killed with SIGKILL, the nodes exit with it, but redis-server stays: kill it by the pid printed.)
//   node examples/cluster/start.mjs        (PORT: the balancer's port, default 3005; TICK_MS: default 1000)
import { execFileSync, fork, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBalancer } from "./balancer.mjs";

const PORT = Number(process.env.PORT ?? 3005);
const children = []; // { name, child }, stopped in reverse order: nodes first, redis-server last
let balancer;
let stopping; // the promise of stop(), once called
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

try {
  const version = execFileSync("redis-server", ["--version"], { encoding: "utf8" });
  if (Number(/v=(\d+)/.exec(version)?.[1]) < 7) throw new Error(`Redis 7 or later is needed, found: ${version}`);
} catch (error) {
  console.error(error.code === "ENOENT" ? "redis-server is not on PATH." : error.message);
  console.error("Install Redis 7 or later, for example: apt-get install redis-server (or brew install redis)");
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), "event-flare-cluster-"));
const redisPort = await freePort();
const redisUrl = `redis://127.0.0.1:${redisPort}`;
// noeviction: an evicted stream is lost history (clients get history-gap); see docs/cluster.md.
const redisArgs = ["--port", `${redisPort}`, "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes", "--save", ""];
const redisOptions = [...redisArgs, "--maxmemory-policy", "noeviction"];
const redis = watch("redis-server", spawn("redis-server", redisOptions, { stdio: ["ignore", "pipe", "inherit"] }));
await ready(redis, (resolve) => redis.stdout.on("data", (chunk) => /Ready to accept/.test(chunk) && resolve()));

const nodes = [];
for (const name of ["A", "B"]) {
  const env = { ...process.env, NODE_NAME: name, REDIS_URL: redisUrl, PORT: "0" };
  const child = watch(`node ${name}`, fork(new URL("./node.mjs", import.meta.url), { env }));
  const port = await ready(child, (resolve) => child.once("message", ({ port }) => resolve(port)));
  nodes.push({ name, pid: child.pid, port });
}
balancer = await startBalancer(
  nodes.map((node) => node.port),
  PORT,
);

console.log(`redis-server (pid ${redis.pid}) on ${redisUrl}, data in ${dir}`);
for (const { name, pid, port } of nodes) console.log(`node ${name} (pid ${pid}) on http://127.0.0.1:${port}`);
console.log(`Kill the node serving your page to see it resume on the other one: kill -9 <its pid>`);
console.log(`listening on http://127.0.0.1:${balancer.port}`);

/** Stops the nodes (they close their backplanes), the balancer, then redis-server, and removes its directory. */
function stop() {
  stopping ??= (async () => {
    await balancer?.close();
    for (const { child } of [...children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  })();
  return stopping;
}

/** Tracks a child process: stopped on the way out, and its unexpected death is reported. */
function watch(name, child) {
  children.push({ name, child });
  if (stopping) child.kill("SIGTERM"); // Ctrl-C while starting
  child.once("exit", (code, signal) => {
    if (stopping) return;
    console.log(`${name} (pid ${child.pid}) exited (${signal ?? `code ${code}`}).`);
    if (name.startsWith("node")) console.log("Its clients reconnect through the balancer to the other node.");
  });
  return child;
}

/** Resolves with what `listen` reports, or stops everything if the child dies (or fails to start) first. */
async function ready(child, listen) {
  try {
    return await Promise.race([
      new Promise(listen),
      once(child, "exit").then(() => Promise.reject(new Error("exited while starting"))),
      once(child, "error").then(([error]) => Promise.reject(error)),
    ]);
  } catch (error) {
    const interrupted = stopping !== undefined; // Ctrl-C while starting
    if (!interrupted) console.error(`${children.at(-1)?.name} did not start: ${error.message}`);
    await stop();
    process.exit(interrupted ? 0 : 1);
  }
}

/** A free loopback port. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
