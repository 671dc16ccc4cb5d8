// One table of transports, one list of scenarios: every row gets every scenario. A new adapter is one row.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer as createHttpServer } from "node:http";
import { createSecureServer, type Http2SecureServer } from "node:http2";
import { type AddressInfo, type Socket, connect as tcpConnect } from "node:net";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { getRequestListener } from "@hono/node-server";
import { EventSource, type EventSourceInit } from "eventsource";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import Koa from "koa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventFlare } from "../src/fastify/index.js";
import { fromRequest } from "../src/fetch/index.js";
import { fromHttp2Stream } from "../src/http2/index.js";
import { BroadcastStream, Session } from "../src/index.js";
import { type ConformanceApp, conformanceApp, SNAPSHOT } from "./conformance/app.js";
import { connectH2, type H2Client, h2Fetch, requestH2, selfSignedCertificate } from "./helpers/h2.js";
import { connectRaw, type RawClient } from "./helpers/rawClient.js";
import { runtimeBinary } from "./helpers/runtimes.js";
import { listen, sleep, waitFor } from "./helpers/server.js";

type Client = RawClient | H2Client;

/** A running row: opens event streams, sends control commands to the app, and stops. */
interface Running {
  /** The origin the real eventsource client connects to, and the options it needs there (HTTP/2: its fetch). */
  readonly origin: string;
  readonly eventSource?: EventSourceInit;
  open(path: string, headers?: Record<string, string>): Promise<Client>;
  /** A client that sends the request and then never reads. */
  openStuck(path: string): Promise<{ destroy(): void }>;
  control(path: string): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

interface Row {
  name: string;
  http2?: boolean;
  /** Starts the row's server; undefined when the row cannot run here (its helper said why, loudly). */
  start(): Promise<Running | undefined> | undefined;
}

const root = fileURLToPath(new URL("..", import.meta.url));

/** A row whose server runs in this process: `handler` turns each node:http request into a session. */
async function inProcessHttp1(
  make: (app: ConformanceApp) => Promise<import("node:http").Server> | import("node:http").Server,
): Promise<Running> {
  const app = conformanceApp(BroadcastStream);
  const server = await listen(await make(app));
  return {
    origin: server.url,
    open: (path, headers) => connectRaw(`${server.url}${path}`, headers),
    openStuck: (path) => stuckHttp1(server.url, path),
    control: async (path) => app.control(path),
    close: () => server.close(),
  };
}

/** A TCP client that sends the request and never reads: the kernel buffers fill and stay full. */
function stuckHttp1(origin: string, path: string): Promise<Socket> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve) => {
    const socket = tcpConnect(Number(port), hostname, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nAccept: text/event-stream\r\n\r\n`);
      socket.pause();
      resolve(socket);
    });
    socket.on("error", () => {});
  });
}

async function inProcessHttp2(attachTo: (server: Http2SecureServer, app: ConformanceApp) => void) {
  const cert = selfSignedCertificate();
  if (cert === undefined) return undefined;
  const app = conformanceApp(BroadcastStream);
  const server = createSecureServer({ ...cert, allowHTTP1: false });
  attachTo(server, app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = connectH2(origin, cert);
  const running: Running = {
    origin,
    eventSource: { fetch: h2Fetch(client) },
    open: (path, headers) => requestH2(client, path, headers),
    async openStuck(path) {
      const stuck = await requestH2(client, path);
      stuck.stream.pause();
      return stuck;
    },
    control: async (path) => app.control(path),
    close: () =>
      new Promise<void>((resolve) => {
        client.destroy();
        server.close(() => resolve());
      }),
  };
  return running;
}

/** Bun or Deno, running test/fixtures/fetch-runtime-server.mjs on the built package. */
async function otherRuntime(name: "bun" | "deno"): Promise<Running> {
  const binary = runtimeBinary(name) as string;
  const args =
    name === "bun"
      ? ["test/fixtures/fetch-runtime-server.mjs"]
      : [
          "run",
          "--allow-net",
          "--allow-read",
          "--allow-env",
          "--unstable-no-legacy-abort",
          "test/fixtures/fetch-runtime-server.mjs",
        ];
  const child: ChildProcess = spawn(binary, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const origin = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${output}`)), 20_000);
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk;
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code}:\n${output}`)));
  });
  return {
    origin,
    open: (path, headers) => connectRaw(`${origin}${path}`, headers),
    openStuck: (path) => stuckHttp1(origin, path),
    async control(path) {
      const response = await fetch(`${origin}${path}`);
      const body = (await response.json()) as Record<string, unknown>;
      if (!response.ok) throw new Error(`${name} control ${path}: ${JSON.stringify(body)}`);
      return body;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  };
}

const rows: Row[] = [
  {
    name: "node:http",
    start: () =>
      inProcessHttp1((app) =>
        createHttpServer((req, res) => app.attach(new Session(req, res, app.options(req.url ?? "/")), req.url ?? "/")),
      ),
  },
  {
    name: "Express 5",
    start: () =>
      inProcessHttp1((app) => {
        const server = express();
        server.get("/events", (req, res) => app.attach(new Session(req, res, app.options(req.url)), req.url));
        return createHttpServer(server);
      }),
  },
  {
    name: "Koa 3",
    start: () =>
      inProcessHttp1((app) => {
        const server = new Koa();
        server.use(async (ctx) => {
          ctx.respond = false;
          ctx.body = new PassThrough();
          app.attach(new Session(ctx.req, ctx.res, app.options(ctx.url)), ctx.url);
        });
        return createHttpServer(server.callback());
      }),
  },
  {
    name: "HTTP/2 compatibility API",
    http2: true,
    start: () =>
      inProcessHttp2((server, app) =>
        server.on("request", (req, res) => app.attach(new Session(req, res, app.options(req.url)), req.url)),
      ),
  },
  {
    name: "HTTP/2 stream API",
    http2: true,
    start: () =>
      inProcessHttp2((server, app) =>
        server.on("stream", (stream, headers) => {
          const url = headers[":path"] ?? "/";
          app.attach(fromHttp2Stream(stream, headers, app.options(url)), url);
        }),
      ),
  },
  {
    name: "Fetch on Node (Hono on @hono/node-server)",
    start: () =>
      inProcessHttp1((app) => {
        const hono = new Hono();
        hono.get("/events", (c) => {
          const { session, response } = fromRequest(c.req.raw, app.options(c.req.url));
          app.attach(session, c.req.url);
          return response;
        });
        return createHttpServer(getRequestListener(hono.fetch));
      }),
  },
  {
    name: "Fastify 5",
    start: () =>
      inProcessHttp1(async (app) => {
        const fastify = Fastify();
        await fastify.register(eventFlare);
        fastify.get("/events", (request, reply) => app.attach(reply.sse(app.options(request.url)), request.url));
        await fastify.ready();
        return fastify.server;
      }),
  },
  { name: "Bun (Bun.serve)", start: () => (runtimeBinary("bun") === undefined ? undefined : otherRuntime("bun")) },
  { name: "Deno (Deno.serve)", start: () => (runtimeBinary("deno") === undefined ? undefined : otherRuntime("deno")) },
];

let tags = 0;
const tag = (what: string) => `${what}-${++tags}`;

describe.each(rows)("$name", (row) => {
  let running: Running | undefined;
  const clients: { destroy(): void }[] = [];
  beforeAll(async () => {
    running = await row.start();
  }, 30_000);
  afterAll(async () => {
    for (const client of clients.splice(0)) client.destroy();
    await running?.close();
  });

  /** Opens a stream; the test is skipped when the row cannot run here. */
  async function open(query: string, headers?: Record<string, string>): Promise<Client> {
    const client = await (running as Running).open(`/events?${query}`, headers);
    clients.push(client);
    return client;
  }
  const control = (path: string) => (running as Running).control(path);
  const state = async (t: string) =>
    (await control(`/control/state?tag=${t}`)) as {
      state: string;
      reason: string | null;
      lastEventId: string | null;
    };
  const waitForReason = async (t: string, reason: string) => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const now = await state(t);
      if (now.reason !== null) return expect([now.state, now.reason]).toEqual(["DISCONNECTED", reason]);
      if (Date.now() > deadline) throw new Error(`session ${t} still ${JSON.stringify(now)}; expected ${reason}`);
      await sleep(20);
    }
  };
  const skip = () => running === undefined;

  it("headers: 200, the SSE headers, and the Connection header only where HTTP/1 allows it", async (context) => {
    if (skip()) return context.skip();
    const client = await open(`tag=${tag("headers")}`);
    expect(client.status).toBe(200);
    expect(client.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    expect(client.headers["cache-control"]).toBe("no-cache, no-transform");
    expect(client.headers["x-accel-buffering"]).toBe("no");
    if (row.http2) expect(client.headers.connection).toBeUndefined();
    else expect([undefined, "keep-alive"]).toContain(client.headers.connection);
    expect(client.headers["content-encoding"]).toBeUndefined();
  });

  it("seed snapshot: the seed README's event, byte for byte", async (context) => {
    if (skip()) return context.skip();
    const client = await open(`tag=${tag("seed")}&seed`);
    const [event] = await client.waitForEvents(1);
    expect(client.text()).toBe(`retry: 1000\n\nid: ${event?.id}\ndata: ${JSON.stringify(SNAPSHOT)}\n\n`);
  });

  it("named event", async (context) => {
    if (skip()) return context.skip();
    const t = tag("named");
    const client = await open(`tag=${t}`);
    const { id } = await control(`/control/send?tag=${t}&data=mock%20data&event=AAPL-stock-price`);
    await client.waitForEvents(1);
    expect(client.events[0]).toEqual({ id, event: "AAPL-stock-price", data: "mock data" });
    expect(client.text()).toContain(`event: AAPL-stock-price\nid: ${id}\ndata: mock data\n\n`);
  });

  it("multi-line data comes back byte for byte through a spec parser", async (context) => {
    if (skip()) return context.skip();
    const t = tag("lines");
    const client = await open(`tag=${t}`);
    const data = " lead\nline two\r\nthree\rfour\u2028 é 🚀 ";
    await control(`/control/send?tag=${t}&data=${encodeURIComponent(data)}`);
    await control(`/control/send?tag=${t}&data=`);
    await client.waitForEvents(2);
    expect(client.events.map((e) => e.data)).toEqual([" lead\nline two\nthree\nfour\u2028 é 🚀 ", ""]);
    expect(client.text()).toContain("data:  lead\ndata: line two\ndata: three\ndata: four\u2028 é 🚀 \n");
  });

  it("heartbeat: comment lines while nothing else is sent", async (context) => {
    if (skip()) return context.skip();
    const client = await open(`tag=${tag("beat")}&hb=40`);
    await waitFor(() => client.comments.length >= 2, "two heartbeats");
    expect(client.events).toEqual([]);
  });

  it("Last-Event-ID replay: a reconnect gets what it missed, in order, then live events", async (context) => {
    if (skip()) return context.skip();
    const first = tag("replay");
    const client = await open(`tag=${first}&join`);
    const { id: seen } = await control("/control/broadcast?data=one");
    await client.waitForEvents(1);
    client.destroy();
    await waitForReason(first, "client-disconnect");
    const missed = [
      (await control("/control/broadcast?data=two")).id,
      (await control("/control/broadcast?data=three&event=tick")).id,
    ];
    const again = await open(`tag=${tag("replay")}&join`, { "Last-Event-ID": String(seen) });
    await again.waitForEvents(2);
    const { id: live } = await control("/control/broadcast?data=four");
    await again.waitForEvents(3);
    expect(again.events.map((e) => [e.id, e.data])).toEqual([
      [missed[0], "two"],
      [missed[1], "three"],
      [live, "four"],
    ]);
    expect(again.events[1]?.event).toBe("tick");
  });

  it("Last-Event-ID replay from the polyfill's query parameter", async (context) => {
    if (skip()) return context.skip();
    const { id: seen } = await control("/control/broadcast?data=q1");
    const { id: missed } = await control("/control/broadcast?data=q2");
    const client = await open(`tag=${tag("query")}&join&evs_last_event_id=${encodeURIComponent(String(seen))}`);
    await client.waitForEvents(1);
    expect(client.events[0]).toMatchObject({ id: missed, data: "q2" });
  });

  it("forced drop: the real eventsource client reconnects by itself and replays what it missed", async (context) => {
    if (skip()) return context.skip();
    const t = tag("drop");
    const source = new EventSource(`${running?.origin}/events?tag=${t}&join&retry=50`, running?.eventSource);
    clients.push({ destroy: () => source.close() });
    const seen: string[] = [];
    source.onmessage = (event) => seen.push(`${event.lastEventId} ${event.data}`);
    await waitFor(() => source.readyState === EventSource.OPEN, "the stream to open");
    const ids = [String((await control("/control/broadcast?data=a")).id)];
    await waitFor(() => seen.length === 1, "a");
    await control(`/control/close?tag=${t}`); // the server drops the stream; the client comes back after 50 ms
    ids.push(String((await control("/control/broadcast?data=b")).id));
    ids.push(String((await control("/control/broadcast?data=c")).id));
    await waitFor(() => seen.length === 3, "b and c, replayed", 10_000);
    expect((await state(t)).lastEventId).toBe(ids[0]);
    ids.push(String((await control("/control/broadcast?data=d")).id));
    await waitFor(() => seen.length === 4, "d, live");
    expect(seen).toEqual(["a", "b", "c", "d"].map((data, i) => `${ids[i]} ${data}`));
    source.close();
  });

  it("gap signal: an id history cannot cover gets history-gap, never a silent skip", async (context) => {
    if (skip()) return context.skip();
    const client = await open(`tag=${tag("gap")}&join`, { "Last-Event-ID": "not-an-id" });
    await client.waitForEvents(1);
    expect(client.events[0]?.event).toBe("history-gap");
    expect(JSON.parse(client.events[0]?.data ?? "{}")).toMatchObject({
      source: "channel:conformance",
      reason: "malformed",
    });
  });

  it("server close: queued events are written, then the stream ends", async (context) => {
    if (skip()) return context.skip();
    const t = tag("close");
    const client = await open(`tag=${t}`);
    await control(`/control/send?tag=${t}&data=last`);
    await control(`/control/close?tag=${t}`);
    await client.waitForEnd();
    expect(client.events.map((e) => e.data)).toEqual(["last"]);
    await waitForReason(t, "server-close");
  });

  it("client abort closes the session as client-disconnect", async (context) => {
    if (skip()) return context.skip();
    const t = tag("abort");
    const client = await open(`tag=${t}&join`);
    await control(`/control/send?tag=${t}&data=hi`);
    await client.waitForEvents(1);
    client.destroy();
    await waitForReason(t, "client-disconnect");
  });

  it("slow consumer: a client that stops reading is closed, and memory stays bounded", async (context) => {
    if (skip()) return context.skip();
    const t = tag("slow");
    const stuck = await (running as Running).openStuck(`/events?tag=${t}&maxbuf=16384&drain=200`);
    clients.push(stuck);
    let closed = false;
    // 64 KiB at a time, up to 256 MiB: the socket and kernel buffers fill, then the session's bound trips.
    for (let sent = 0; sent < 4096 && !closed; sent++) {
      try {
        closed = (await control(`/control/flood?tag=${t}&count=64&size=1024`)).state === "DISCONNECTED";
      } catch (error) {
        if (!/no session tagged/.test(String(error))) throw error;
        await sleep(10); // the request has not reached the server yet
      }
    }
    await waitForReason(t, "slow-consumer");
  }, 60_000);
});
