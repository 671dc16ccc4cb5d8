import { Writable } from "node:stream";
import { EventSource } from "eventsource";
import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, expect, it } from "vitest";
import { eventFlare } from "../src/fastify/index.js";
import { heartbeatTimers } from "../src/heartbeat.js";
import { BroadcastStream, type Session } from "../src/index.js";
import { connectRaw } from "./helpers/rawClient.js";
import { waitFor } from "./helpers/server.js";

let app: FastifyInstance | undefined;
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await app?.close();
  app = undefined;
  // Every session closed with its client or its server: no heartbeat timer is left.
  await waitFor(() => heartbeatTimers() === 0, "every session to release its heartbeat");
});

/** Fastify's own logger (pino), writing its JSON lines into an array. */
function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, options: { logger: { level: "info", stream } } };
}

async function origin(instance: FastifyInstance): Promise<string> {
  return instance.listen({ port: 0, host: "127.0.0.1" });
}

it("reply.sse(): hooks and the logger keep working, and an onRequest auth hook rejects before any SSE header", async () => {
  const log = capturedLogger();
  app = Fastify(log.options);
  const onResponse: number[] = [];
  const channel = new BroadcastStream("fastify");
  const sessions: Session[] = [];
  await app.register(eventFlare);
  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
    if (request.headers.authorization !== "Bearer good") {
      return reply.code(401).send({ error: "unauthorized" });
    }
  });
  app.addHook("onResponse", async (_request, reply) => {
    onResponse.push(reply.statusCode);
  });
  app.get("/events", (request, reply) => {
    request.log.info("streaming");
    const session = reply.sse({ sessionId: "user-1:tab" });
    sessions.push(session);
    channel.register(session);
  });
  const url = `${await origin(app)}/events`;

  const rejected = await fetch(url, { headers: { accept: "text/event-stream" } });
  expect(rejected.status).toBe(401);
  expect(rejected.headers.get("content-type")).toMatch(/^application\/json/);
  expect(await rejected.json()).toEqual({ error: "unauthorized" });
  expect(sessions).toHaveLength(0);

  const client = await connectRaw(url, { authorization: "Bearer good" });
  closers.push(() => client.destroy());
  expect(client.status).toBe(200);
  expect(client.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
  expect(client.headers["x-request-id"]).toMatch(/\S/); // set by the hook with reply.header()
  await waitFor(() => sessions.length === 1, "the session");
  const id = channel.broadcastAll({ price: 1 }, "price");
  await client.waitForEvents(1);
  expect(client.events[0]).toEqual({ id, event: "price", data: '{"price":1}' });

  sessions[0]?.close();
  await client.waitForEnd();
  await waitFor(() => onResponse.length === 2, "onResponse for both requests");
  expect(onResponse).toEqual([401, 200]);
  const messages = log.lines.map((line) => line.msg);
  expect(messages.filter((msg) => msg === "incoming request")).toHaveLength(2);
  expect(messages.filter((msg) => msg === "request completed")).toHaveLength(2);
  expect(messages).toContain("streaming");
});

it("works with the real eventsource client and an async handler", async () => {
  app = Fastify();
  await app.register(eventFlare);
  app.get("/events", async (_request, reply) => {
    reply.sse().sendMessage(JSON.stringify({ stockName: "AAPL", currentStockPrice: "245.65" }));
  });
  const source = new EventSource(`${await origin(app)}/events`);
  closers.push(() => source.close());
  const event = await new Promise<MessageEvent>((resolve, reject) => {
    source.onmessage = resolve;
    source.onerror = reject;
  });
  expect(JSON.parse(event.data)).toEqual({ stockName: "AAPL", currentStockPrice: "245.65" });
});

it("registered once at the root, reply.sse() is there in child contexts too", async () => {
  app = Fastify();
  await app.register(eventFlare);
  await app.register(
    async (child) => {
      child.get("/events", (_request, reply) => {
        reply.sse().close();
      });
    },
    { prefix: "/child" },
  );
  const client = await connectRaw(`${await origin(app)}/child/events`);
  await client.waitForEnd();
  expect(client.text()).toBe("retry: 1000\n\n");
});

it("bad input: a route that already sent its reply gets INVALID_ARGUMENT from reply.sse(), and nothing leaks", async () => {
  app = Fastify();
  await app.register(eventFlare);
  const errors: unknown[] = [];
  app.get("/events", (_request, reply) => {
    reply.send("plain");
    try {
      reply.sse();
    } catch (error) {
      errors.push(error);
    }
  });
  const response = await fetch(`${await origin(app)}/events`);
  expect(await response.text()).toBe("plain");
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatchObject({ name: "EventFlareError", code: "INVALID_ARGUMENT", field: "reply" });
});

it("bad input: a bad option is answered by Fastify's error handler, with nothing of the stream written", async () => {
  app = Fastify();
  await app.register(eventFlare);
  app.get("/events", (_request, reply) => {
    reply.sse({ heartbeatInterval: -1 });
  });
  const response = await fetch(`${await origin(app)}/events`);
  expect(response.status).toBe(500);
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  expect(await response.json()).toMatchObject({ code: "INVALID_OPTION" });
});
