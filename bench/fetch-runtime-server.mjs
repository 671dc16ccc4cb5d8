// The Fetch-path SERVER for the runtimes section (runtimes-section.mjs): the same code on Node (@hono/node-server's
// `serve`), Bun (Bun.serve) and Deno (Deno.serve), driven over HTTP rather than IPC (Bun and Deno are not forked by
// Node). GET / opens an event stream (`fromRequest`, joined to one channel); the control routes are:
//   /control/clock?us=<orchestrator's CLOCK_MONOTONIC µs>  -> {}: aligns this process's clock with the client's
//   /control/count                                        -> { count } streams registered
//   /control/run?seqStart&m&size&pace                     -> { t0, tEnd } once the broadcasts are issued
// Prints "listening on http://127.0.0.1:<port>". PORT picks the port (0: any).
import { BroadcastStream } from "event-flare";
import { fromRequest } from "event-flare/fetch";

const HEARTBEAT_MS = 3_600_000;
const channel = new BroadcastStream("bench");
const options = { heartbeatInterval: HEARTBEAT_MS };

// Bun's and Deno's process.hrtime count from their own start; the client's clock is the system's monotonic one.
// The orchestrator sends its reading several times; the largest offset (the request that spent the least time in
// flight, some 0.1 ms) aligns the two.
let offsetUs = Number.NEGATIVE_INFINITY;
const localUs = () => performance.now() * 1000;
const nowUs = () => localUs() + offsetUs;

/** The benchmark payload, byte for byte as common.mjs makes it: `<seq>:<sendTimeUs>:` padded with x. */
function payload(seq, size, pad) {
  const prefix = `${seq}:${Math.round(nowUs())}:`;
  return prefix + pad.slice(prefix.length, size);
}

function run({ seqStart, m, size, pace }) {
  const pad = "x".repeat(size);
  const end = seqStart + m;
  const t0 = nowUs();
  if (pace === "burst") {
    for (let seq = seqStart; seq < end; seq++) channel.broadcastAll(payload(seq, size, pad));
    return Promise.resolve({ t0, tEnd: nowUs() });
  }
  // One broadcast per event-loop turn.
  return new Promise((resolve) => {
    let seq = seqStart;
    const step = () => {
      channel.broadcastAll(payload(seq, size, pad));
      seq += 1;
      if (seq < end) setImmediate(step);
      else resolve({ t0, tEnd: nowUs() });
    };
    step();
  });
}

async function handle(request) {
  const url = new URL(request.url);
  const q = Object.fromEntries(url.searchParams);
  switch (url.pathname) {
    case "/": {
      const { session, response } = fromRequest(request, options);
      channel.register(session);
      return response;
    }
    case "/control/clock":
      offsetUs = Math.max(offsetUs, Number(q.us) - localUs());
      return Response.json({});
    case "/control/count":
      return Response.json({ count: channel.getActiveConnections() });
    case "/control/run":
      return Response.json(
        await run({ seqStart: Number(q.seqStart), m: Number(q.m), size: Number(q.size), pace: q.pace }),
      );
    default:
      return new Response("not found", { status: 404 });
  }
}

const port = Number(globalThis.Deno?.env.get("PORT") ?? process.env.PORT ?? 0);
const listening = (p) => console.log(`listening on http://127.0.0.1:${p}`);
if (globalThis.Bun !== undefined) {
  listening(Bun.serve({ port, hostname: "127.0.0.1", fetch: handle, idleTimeout: 0 }).port);
} else if (globalThis.Deno !== undefined) {
  Deno.serve({ port, hostname: "127.0.0.1", onListen: ({ port: p }) => listening(p) }, handle);
} else {
  const { serve } = await import("@hono/node-server");
  serve({ fetch: handle, port, hostname: "127.0.0.1" }, (info) => listening(info.port));
}
