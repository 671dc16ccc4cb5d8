// The SERVER child: one implementation behind a plain node:http server on 127.0.0.1, driven over IPC by run.mjs.
// Its CPU and memory are measured here, alone: the clients live in another process.
//
// argv[2] is JSON: { impl: "raw" | "event-flare" | "event-flare-fetch" | "better-sse" | "sse-channel", flushInterval?,
//                    snapshotDir?,
//                    eventFlareEntry? (path of the event-flare ESM entry to import instead of the package),
//                    fault?, faultSeq? (self-test for raw: see faulty() below),
//                    backplane? (event-flare only: { url, nodeId, historySize?, countReplays? }: the channel and
//                                every session live on a Redis backplane; see backplane-section.mjs) }
//
// IPC in:  { cmd: "wait-clients", n }  -> { type: "clients", count } once n streams are registered
//          { cmd: "mem" , label }      -> { type: "mem", label, memory, count } after a full GC
//          { cmd: "prepare" }          -> { type: "prepared" } after a full GC (outside the measured window)
//          { cmd: "run", seqStart, m, size, pace, intervalMs } -> { type: "broadcast-done", t0, tEnd, tAcked? }
//                                         (pace: "immediate" | "burst" | "steady", the last every intervalMs;
//                                         "rate": one broadcast at t0 + i × intervalMs, a fixed schedule.
//                                         On a backplane, tAcked is when Redis had taken every broadcast)
//          { cmd: "mark" }             -> { type: "marked" }: the CPU counters start now (a node that only delivers)
//          { cmd: "replays" }          -> { type: "replays", count }: replay reads so far (backplane.countReplays)
//          { cmd: "cpu" }              -> { type: "cpu", user, system, voluntarySwitches, involuntarySwitches }
//                                         since the start of the last run
//          { cmd: "exit" }
import http from "node:http";
import path from "node:path";
import { pathToFileURL } from "node:url";
import v8 from "node:v8";
import { bindToParent, contextSwitches, fullGc, makePayload, nowUs, toParent } from "./common.mjs";

const config = JSON.parse(process.argv[2]);
bindToParent(`server(${config.impl})`);

/**
 * Heartbeats/pings every hour: the timers exist (so idle memory includes them) but never fire during a run, where
 * they would add writes to the measured cells, or to cells of other implementations while this one idles.
 */
const HEARTBEAT_MS = 3_600_000;

const SSE_HEADERS = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-cache",
  Connection: "keep-alive",
};

/**
 * Each implementation: handle(req, res) adds a stream, broadcast(seq, data) sends one event to all of them,
 * count() says how many are registered. `seq` is the benchmark's event number; implementations that accept
 * an explicit id get `seq + 1` (so it is never 0, which sse-channel would treat as "no id").
 */
async function createImpl(name) {
  switch (name) {
    case "raw": {
      // The practical limit: encode once into one Buffer, res.write it to every response. Nothing else.
      const clients = [];
      return {
        handle(_req, res) {
          res.writeHead(200, SSE_HEADERS);
          res.write("retry: 1000\n\n");
          clients.push(res);
          res.on("close", () => {
            const i = clients.indexOf(res);
            if (i !== -1) clients.splice(i, 1);
          });
        },
        broadcast(seq, data) {
          const frame = Buffer.from(`id: ${seq + 1}\ndata: ${data}\n\n`);
          if (config.fault !== undefined && seq === config.faultSeq) return faulty(clients, frame, seq, data);
          for (let i = 0; i < clients.length; i++) clients[i].write(frame);
          if (held !== undefined) {
            clients[clients.length - 1].write(held);
            held = undefined;
          }
        },
        count: () => clients.length,
      };
    }
    case "event-flare": {
      // run.mjs passes a private copy of dist/esm taken at its start, so a rebuild while the bench runs cannot mix
      // two versions into one result; without it, the package itself.
      const { Session, BroadcastStream } = await import(
        config.eventFlareEntry !== undefined ? pathToFileURL(config.eventFlareEntry).href : "event-flare"
      );
      const options = { heartbeatInterval: HEARTBEAT_MS, flushInterval: config.flushInterval ?? 0 };
      const channelOptions = {};
      if (config.backplane !== undefined) {
        backplane = await openBackplane(config.backplane);
        options.backplane = backplane;
        channelOptions.backplane = backplane;
        if (config.backplane.historySize !== undefined) channelOptions.historySize = config.backplane.historySize;
      }
      const channel = new BroadcastStream("bench", channelOptions);
      return {
        handle(req, res) {
          channel.register(new Session(req, res, options));
        },
        // On a backplane: a promise of the id (the event is delivered when a node reads it back from Redis).
        broadcast(_seq, data) {
          return channel.broadcastAll(data);
        },
        count: () => channel.getActiveConnections(),
      };
    }
    case "event-flare-fetch": {
      // The Fetch path: Hono on @hono/node-server, `fromRequest` per request, the same channel and session options.
      const entry = config.eventFlareEntry !== undefined ? pathToFileURL(config.eventFlareEntry).href : "event-flare";
      const fetchEntry =
        config.eventFlareEntry !== undefined
          ? pathToFileURL(path.join(path.dirname(config.eventFlareEntry), "fetch", "index.js")).href
          : "event-flare/fetch";
      const [{ BroadcastStream }, { fromRequest }, { Hono }, { getRequestListener }] = await Promise.all([
        import(entry),
        import(fetchEntry),
        import("hono"),
        import("@hono/node-server"),
      ]);
      const options = { heartbeatInterval: HEARTBEAT_MS, flushInterval: config.flushInterval ?? 0 };
      const channel = new BroadcastStream("bench");
      const app = new Hono();
      app.get("/", (c) => {
        const { session, response } = fromRequest(c.req.raw, options);
        channel.register(session);
        return response;
      });
      const listener = getRequestListener(app.fetch);
      return {
        handle: (req, res) => listener(req, res),
        broadcast: (_seq, data) => channel.broadcastAll(data),
        count: () => channel.getActiveConnections(),
      };
    }
    case "better-sse": {
      const { createChannel, createSession } = await import("better-sse");
      const channel = createChannel();
      // keepAlive (a timer per session, default 10 s) set to the same hour; everything else default, including the
      // JSON.stringify serializer (so the data line is the payload in quotes) and the 2 s retry line.
      return {
        handle(req, res) {
          createSession(req, res, { keepAlive: HEARTBEAT_MS }).then(
            (session) => channel.register(session),
            (error) => toParent({ type: "error", message: `better-sse createSession: ${error}` }),
          );
        },
        broadcast(seq, data) {
          channel.broadcast(data, "message", { eventId: String(seq + 1) });
        },
        count: () => channel.sessionCount,
      };
    }
    case "sse-channel": {
      const { default: SseChannel } = await import("sse-channel");
      // History needs an id on every message; kept at 100 entries like event-flare's channel default (its own
      // default is 500). One ping timer for the channel (default 20 s), set to the same hour.
      const channel = new SseChannel({ historySize: 100, pingInterval: HEARTBEAT_MS });
      return {
        handle(req, res) {
          channel.addClient(req, res);
        },
        broadcast(seq, data) {
          channel.send({ id: seq + 1, data });
        },
        count: () => channel.getConnectionCount(),
      };
    }
    default:
      throw new Error(`unknown implementation ${name}`);
  }
}

/**
 * Self-test of the client's checks (run.mjs --inject-fault=…): event `seq` reaches the last client wrongly, every
 * other client normally. The run must then fail.
 */
let held;
function faulty(clients, frame, seq, data) {
  const victim = clients.length - 1;
  for (let i = 0; i < victim; i++) clients[i].write(frame);
  const res = clients[victim];
  if (config.fault === "duplicate") {
    res.write(frame);
    res.write(frame);
  } else if (config.fault === "truncate") {
    res.write(Buffer.from(`id: ${seq + 1}\ndata: ${data.slice(0, -1)}\n\n`));
  } else if (config.fault === "reorder") {
    held = frame; // written after the next event
  }
  // "drop": nothing at all
}

/** The Redis backplane of an event-flare node (config.backplane), else undefined. */
let backplane;
let replayReads = 0;

async function openBackplane({ url, nodeId, countReplays }) {
  const entry =
    config.eventFlareEntry !== undefined
      ? pathToFileURL(path.join(path.dirname(config.eventFlareEntry), "redis", "index.js")).href
      : "event-flare/redis";
  const { createRedisBackplane } = await import(entry);
  const bp = createRedisBackplane({ url, nodeId });
  bp.errors$.subscribe((error) => toParent({ type: "error", message: `backplane ${nodeId}: ${error.message}` }));
  await bp.ready();
  if (countReplays === true) {
    // Counts the channel's replay reads (the script that reads a stream after an id, as test/redis/storm.test.ts
    // does): a cross-check of Redis's own command counts. Reaches into the backplane's internals; bench only.
    const connections = bp.connections;
    const run = connections.run.bind(connections);
    connections.run = (script, ...rest) => {
      if (script.source.includes("return standing(KEYS[1], KEYS[2], ARGV[1], ARGV[2])")) replayReads += 1;
      return run(script, ...rest);
    };
  }
  return bp;
}

const impl = await createImpl(config.impl);
const server = http.createServer((req, res) => impl.handle(req, res));
server.on("clientError", (error, socket) => {
  toParent({ type: "error", message: `server clientError: ${error.message}` });
  socket.destroy();
});

let waitingFor = 0;
let countTimer;
function checkClients() {
  if (waitingFor > 0 && impl.count() >= waitingFor) {
    clearInterval(countTimer);
    countTimer = undefined;
    toParent({ type: "clients", count: impl.count() });
    waitingFor = 0;
  }
}

let cpuAtStart;
let switchesAtStart;
let snapshotIndex = 0;

function run({ seqStart, m, size, pace, intervalMs }) {
  const pad = "x".repeat(size);
  const end = seqStart + m;
  let seq = seqStart;
  switchesAtStart = contextSwitches();
  cpuAtStart = process.cpuUsage();
  const t0 = nowUs();
  // On a backplane every broadcast is a promise: a rejection fails the run, and tAcked says when Redis had them all.
  const pending = backplane !== undefined ? [] : undefined;
  const broadcast = (s, data) => {
    const result = impl.broadcast(s, data);
    if (pending !== undefined) pending.push(result);
  };
  const done = () => {
    const tEnd = nowUs();
    if (pending === undefined) return toParent({ type: "broadcast-done", t0, tEnd });
    Promise.all(pending).then(
      () => toParent({ type: "broadcast-done", t0, tEnd, tAcked: nowUs() }),
      (error) => toParent({ type: "error", message: `backplane broadcast failed: ${error?.message ?? error}` }),
    );
  };
  if (pace === "rate") {
    // A fixed schedule: broadcast i at t0 + i × intervalMs, however long each one took.
    const step = () => {
      broadcast(seq, makePayload(seq, size, pad));
      seq += 1;
      if (seq < end) setTimeout(step, Math.max(0, (t0 + (seq - seqStart) * intervalMs * 1000 - nowUs()) / 1000));
      else done();
    };
    step();
  } else if (pace === "steady") {
    // A light load for latency: one broadcast every intervalMs.
    const step = () => {
      broadcast(seq, makePayload(seq, size, pad));
      seq += 1;
      if (seq < end) setTimeout(step, intervalMs);
      else done();
    };
    step();
  } else if (pace === "burst") {
    // All M broadcasts in one synchronous loop.
    for (; seq < end; seq++) broadcast(seq, makePayload(seq, size, pad));
    done();
  } else {
    // One broadcast per event-loop turn.
    const step = () => {
      broadcast(seq, makePayload(seq, size, pad));
      seq += 1;
      if (seq < end) setImmediate(step);
      else done();
    };
    step();
  }
}

process.on("message", (msg) => {
  switch (msg.cmd) {
    case "wait-clients":
      waitingFor = msg.n;
      countTimer = setInterval(checkClients, 20);
      checkClients();
      break;
    case "mem": {
      fullGc();
      // Let pending callbacks settle, then collect again and read.
      setTimeout(() => {
        fullGc();
        const memory = process.memoryUsage();
        let snapshot;
        if (config.snapshotDir !== undefined) {
          snapshotIndex += 1;
          snapshot = v8.writeHeapSnapshot(
            path.join(config.snapshotDir, `${config.impl}-${msg.label}-${process.pid}-${snapshotIndex}.heapsnapshot`),
          );
        }
        toParent({ type: "mem", label: msg.label, memory, count: impl.count(), snapshot });
      }, 100);
      break;
    }
    case "prepare":
      // Outside the measured window: collect garbage now rather than during the next cell.
      fullGc();
      toParent({ type: "prepared" });
      break;
    case "run":
      run(msg);
      break;
    case "mark":
      cpuAtStart = process.cpuUsage();
      switchesAtStart = contextSwitches();
      toParent({ type: "marked" });
      break;
    case "replays":
      toParent({ type: "replays", count: replayReads });
      break;
    case "cpu": {
      const cpu = process.cpuUsage(cpuAtStart);
      const switches = contextSwitches();
      toParent({
        type: "cpu",
        user: cpu.user,
        system: cpu.system,
        voluntarySwitches: switches.voluntary - switchesAtStart.voluntary,
        involuntarySwitches: switches.involuntary - switchesAtStart.involuntary,
      });
      break;
    }
    case "exit":
      // A normal exit, so --cpu-prof / --heap-prof write their files.
      server.closeAllConnections?.();
      if (backplane === undefined) process.exit(0);
      // Gives back this node's presence in Redis (2 s at most), then exits.
      Promise.race([backplane.close(), new Promise((resolve) => setTimeout(resolve, 2000))]).finally(() =>
        process.exit(0),
      );
      break;
    default:
      toParent({ type: "error", message: `server: unknown command ${msg.cmd}` });
  }
});

server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, () => {
  toParent({ type: "listening", port: server.address().port, pid: process.pid });
});
