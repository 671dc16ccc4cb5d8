// One event-flare node of the cluster example (started by start.mjs; one process per node). It shows a BroadcastStream
// and resumable Sessions on the Redis backplane: a client served by this node gets every tick, whichever node
// published it, and when this node dies its clients reconnect (through the balancer) to another node and resume from
// their Last-Event-ID with no gap and no duplicate.
//   GET /            the page
//   GET /events?sid= the event stream: first a "node" event naming this node, then the "tick" events
//   POST /crash      kills this node at once (SIGKILL), only when EXAMPLE_ALLOW_CRASH=1
// Environment: NODE_NAME, REDIS_URL, PORT (0 = any free port), TICK_MS (default 1000), EXAMPLE_ALLOW_CRASH.
import { readFileSync } from "node:fs";
import http from "node:http";
import { BroadcastStream, Session } from "event-flare";
import { createRedisBackplane } from "event-flare/redis";
import { startTicking } from "./ticks.mjs";

const NODE = process.env.NODE_NAME ?? "A";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const page = readFileSync(new URL("./index.html", import.meta.url));

const backplane = createRedisBackplane({ url: REDIS_URL, nodeId: NODE });
backplane.errors$.subscribe((error) => console.error(`node ${NODE}: ${error.message}`));
await backplane.ready();

const ticker = new BroadcastStream("ticks", { backplane, historySize: 500 });
const ticking = await startTicking({
  url: REDIS_URL,
  node: NODE,
  ticker,
  everyMs: Number(process.env.TICK_MS ?? 1000),
});

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://localhost");
  if (req.method === "GET" && url.pathname === "/") {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(page);
  } else if (req.method === "GET" && url.pathname === "/events") {
    // The page keeps a random id per tab (sessionStorage). A real application derives the sessionId from the
    // authenticated user plus this per-tab part: it is a bearer credential (docs/replay.md).
    const sid = url.searchParams.get("sid");
    const sessionId = sid !== null && /^[A-Za-z0-9-]{8,64}$/.test(sid) ? `tab-${sid}` : null;
    const session = new Session(req, res, { sessionId, backplane, retryInterval: 500 });
    ticker.register(session); // first: it replays the ticks missed since the client's Last-Event-ID
    session.sendMessage({ node: NODE }, "node").catch(() => {}); // BACKPLANE_UNAVAILABLE while Redis is down
  } else if (req.method === "POST" && url.pathname === "/crash" && process.env.EXAMPLE_ALLOW_CRASH === "1") {
    res.writeHead(202).end(`node ${NODE} crashing\n`, () => process.kill(process.pid, "SIGKILL"));
  } else {
    res.writeHead(404).end();
  }
});

server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  const { port } = server.address();
  if (process.send) process.send({ port });
  else console.log(`node ${NODE} serving on http://127.0.0.1:${port}`);
});

/** Stops taking requests, ends every stream, and leaves the backplane; the process then exits by itself. */
let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  server.close();
  server.closeAllConnections(); // the open event streams: their clients reconnect to another node
  ticker.close();
  await ticking.stop();
  await backplane.close();
  if (process.connected) process.disconnect(); // the IPC channel would keep the process alive
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.on("disconnect", stop); // start.mjs is gone
