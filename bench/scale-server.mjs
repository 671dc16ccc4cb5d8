// The SERVER child of the scale benchmark (bench/scale.mjs): node:http on 127.0.0.1 with event-flare (a given build)
// or a raw res.write fan-out, measured alone (the clients live in other processes).
//
// argv[2] is JSON: { impl: "event-flare" | "raw", entry? (event-flare's dist/esm/index.js), heartbeatMs,
//                    flushSliceSize? (event-flare only; omitted: the build's default), historySize? (the channel's) }
//
// IPC in:  { cmd: "wait-clients", n }      -> { type: "clients", count } once n streams are registered
//          { cmd: "mem" }                  -> { type: "mem", memory } after a full GC
//          { cmd: "eld-start" }            -> { type: "eld-started" }: event-loop delay and CPU counted from now
//          { cmd: "eld-stop" }             -> { type: "eld", maxMs, p99Ms, meanMs, cpuUs } since eld-start
//          { cmd: "broadcast", seq, size } -> { type: "broadcast-done", t0, tEnd }: one event to every stream
//          { cmd: "publish", seqStart, m, size } -> { type: "published", lastEventId }: m events with nobody
//                                             registered, after a marker event whose id is lastEventId
//          { cmd: "exit" }
import http from "node:http";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { bindToParent, fullGc, makePayload, nowUs, toParent } from "./common.mjs";

const config = JSON.parse(process.argv[2]);
bindToParent(`scale-server(${config.impl})`);

const SSE_HEADERS = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-cache",
  Connection: "keep-alive",
};

async function createImpl() {
  if (config.impl === "raw") {
    // The practical limit: encode once, res.write the Buffer to every response.
    const clients = new Set();
    return {
      handle(_req, res) {
        res.writeHead(200, SSE_HEADERS);
        res.write("retry: 1000\n\n");
        clients.add(res);
        res.on("close", () => clients.delete(res));
      },
      broadcast(seq, data) {
        const frame = Buffer.from(`id: ${seq + 1}\ndata: ${data}\n\n`);
        for (const res of clients) res.write(frame);
      },
      count: () => clients.size,
    };
  }
  const { Session, BroadcastStream } = await import(pathToFileURL(config.entry).href);
  const options = { heartbeatInterval: config.heartbeatMs };
  if (config.flushSliceSize !== undefined) {
    options.flushSliceSize = config.flushSliceSize === "Infinity" ? Number.POSITIVE_INFINITY : config.flushSliceSize;
  }
  const channel = new BroadcastStream(
    "scale",
    config.historySize === undefined ? undefined : { historySize: config.historySize },
  );
  return {
    handle(req, res) {
      channel.register(new Session(req, res, options));
    },
    broadcast: (_seq, data) => channel.broadcastAll(data),
    count: () => channel.getActiveConnections(),
  };
}

const impl = await createImpl();
const server = http.createServer((req, res) => impl.handle(req, res));
server.on("clientError", (error, socket) => {
  toParent({ type: "error", message: `server clientError: ${error.message}` });
  socket.destroy();
});

// 1 ms: the histogram records each interval of its timer, so at 10 ms (the default) every figure includes 10 ms.
const eld = monitorEventLoopDelay({ resolution: 1 });
let cpuAtStart;
let waitingFor = 0;
let countTimer;
function checkClients() {
  if (waitingFor > 0 && impl.count() >= waitingFor) {
    clearInterval(countTimer);
    waitingFor = 0;
    toParent({ type: "clients", count: impl.count() });
  }
}

process.on("message", (msg) => {
  switch (msg.cmd) {
    case "wait-clients":
      waitingFor = msg.n;
      countTimer = setInterval(checkClients, 20);
      checkClients();
      break;
    case "mem":
      fullGc();
      setTimeout(() => {
        fullGc();
        toParent({ type: "mem", memory: process.memoryUsage(), count: impl.count() });
      }, 100);
      break;
    case "eld-start":
      eld.disable();
      eld.reset();
      eld.enable();
      cpuAtStart = process.cpuUsage();
      toParent({ type: "eld-started" });
      break;
    case "eld-stop": {
      eld.disable();
      const cpu = process.cpuUsage(cpuAtStart);
      toParent({
        type: "eld",
        maxMs: eld.max / 1e6,
        p99Ms: eld.percentile(99) / 1e6,
        meanMs: eld.mean / 1e6,
        cpuUs: cpu.user + cpu.system,
      });
      break;
    }
    case "broadcast": {
      const pad = "x".repeat(msg.size);
      const t0 = nowUs();
      impl.broadcast(msg.seq, makePayload(msg.seq, msg.size, pad));
      toParent({ type: "broadcast-done", t0, tEnd: nowUs() });
      break;
    }
    case "publish": {
      const pad = "x".repeat(msg.size);
      const lastEventId = impl.broadcast(msg.seqStart - 1, makePayload(msg.seqStart - 1, msg.size, pad));
      for (let seq = msg.seqStart; seq < msg.seqStart + msg.m; seq++)
        impl.broadcast(seq, makePayload(seq, msg.size, pad));
      toParent({ type: "published", lastEventId });
      break;
    }
    case "exit":
      server.closeAllConnections?.();
      process.exit(0);
      break;
    default:
      toParent({ type: "error", message: `scale-server: unknown command ${msg.cmd}` });
  }
});

server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, () => {
  toParent({ type: "listening", port: server.address().port });
});
