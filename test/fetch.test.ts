import { getEventListeners } from "node:events";
import { createServer } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { EventSource } from "eventsource";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { fromRequest } from "../src/fetch/index.js";
import { heartbeatTimers } from "../src/heartbeat.js";
import { BroadcastStream, type CloseReason, isEventFlareError, Session } from "../src/index.js";
import { listen, sleep, type TestServer, waitFor } from "./helpers/server.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  // Nothing a session held outlives it: no heartbeat timer is left.
  expect(heartbeatTimers()).toBe(0);
});

/** Reads a Response body with a spec parser; `stop()` cancels the read. */
function readBody(response: Response) {
  const events: EventSourceMessage[] = [];
  let text = "";
  const parser = createParser({ onEvent: (event) => events.push(event) });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let done = false;
  const pump = (async () => {
    for (;;) {
      const chunk = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (chunk.done) break;
      const piece = decoder.decode(chunk.value, { stream: true });
      text += piece;
      parser.feed(piece);
    }
    done = true;
  })();
  return {
    events,
    text: () => text,
    done: () => done,
    stop: async () => {
      await reader.cancel();
      await pump;
    },
  };
}

function closeReason(session: Session): Promise<CloseReason> {
  return new Promise((resolve) => session.once("session-closed", ({ reason }) => resolve(reason)));
}

const abortListeners = (signal: AbortSignal) => getEventListeners(signal, "abort").length;

describe("fromRequest", () => {
  it("answers a GET with a Response whose body is the event stream, and replays from Last-Event-ID", async () => {
    const channel = new BroadcastStream("fetch-unit");
    const first = channel.broadcastAll("one");
    const second = channel.broadcastAll("two", "tick");
    const request = new Request("http://local/events", { headers: { "Last-Event-ID": first } });
    const { session, response } = fromRequest(request, { retryInterval: 2000 });
    channel.register(session);
    expect(response.status).toBe(200);
    expect(Object.fromEntries(response.headers as unknown as Iterable<[string, string]>)).toEqual({
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
    });
    const body = readBody(response);
    await waitFor(() => body.events.length === 1, "the replayed event");
    expect(body.text()).toBe(`retry: 2000\n\nevent: tick\nid: ${second}\ndata: two\n\n`);
    const closed = closeReason(session);
    await body.stop();
    expect(await closed).toBe("client-disconnect");
    expect(channel.getActiveConnections()).toBe(0);
  });

  it("closes the session as client-disconnect when the request's signal aborts, and removes its listener", async () => {
    const controller = new AbortController();
    const { session } = fromRequest(new Request("http://local/", { signal: controller.signal }));
    expect(abortListeners(controller.signal)).toBe(1);
    const closed = closeReason(session);
    controller.abort();
    expect(await closed).toBe("client-disconnect");
    expect(abortListeners(controller.signal)).toBe(0);
    expect(() => session.sendMessage("late")).toThrow(expect.objectContaining({ code: "SESSION_CLOSED" }));
  });

  it("bad input: a request aborted before the first write closes on the next tick, never inside fromRequest", async () => {
    const controller = new AbortController();
    controller.abort();
    const { session, response } = fromRequest(new Request("http://local/", { signal: controller.signal }));
    expect(session.getConnectionState()).toBe("CONNECTED");
    const closed = closeReason(session);
    expect(await closed).toBe("client-disconnect");
    expect(response.status).toBe(200);
    expect(abortListeners(controller.signal)).toBe(0);
  });

  it.each(["POST", "PUT", "DELETE", "OPTIONS"])(
    "bad input: %s is refused with INVALID_ARGUMENT, nothing opened",
    (method) => {
      const request = new Request("http://local/", { method, ...(method === "POST" ? { body: "x" } : {}) });
      let thrown: unknown;
      try {
        fromRequest(request);
      } catch (error) {
        thrown = error;
      }
      expect(isEventFlareError(thrown, "INVALID_ARGUMENT")).toBe(true);
      expect(String((thrown as Error).message)).toMatch(/GET/);
      expect(abortListeners(request.signal)).toBe(0);
    },
  );

  it("bad input: something that is not a Request is refused with INVALID_ARGUMENT", () => {
    expect(() => fromRequest({} as Request)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => fromRequest(undefined as unknown as Request)).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT" }),
    );
  });

  it("a HEAD request gets the headers and no body; its session closes as server-close", async () => {
    const { session, response } = fromRequest(new Request("http://local/", { method: "HEAD" }));
    expect(response.body).toBeNull();
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(await closeReason(session)).toBe("server-close");
  });

  it("bad input: a body read by two consumers: the second reader and tee() are refused; the first goes on", async () => {
    const { session, response } = fromRequest(new Request("http://local/"));
    expect(() => response.clone()).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => response.body?.tee()).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    const body = readBody(response);
    expect(() => response.body?.getReader()).toThrow(TypeError);
    const id = session.sendMessage("still here");
    await waitFor(() => body.events.length === 1, "the event");
    expect(body.events[0]).toMatchObject({ id, data: "still here" });
    const closed = closeReason(session);
    await body.stop();
    expect(await closed).toBe("client-disconnect");
  });

  it("server close ends the body after what was queued", async () => {
    const { session, response } = fromRequest(new Request("http://local/"));
    session.sendMessage("a");
    session.sendMessage("b");
    session.close();
    const body = readBody(response);
    await waitFor(body.done, "the body to end");
    expect(body.events.map((e) => e.data)).toEqual(["a", "b"]);
  });

  it("backpressure: a body nobody reads stops taking writes at the high-water mark and closes as slow-consumer", async () => {
    const { session, response } = fromRequest(new Request("http://local/"), {
      maxBufferedBytes: 64 * 1024,
      drainTimeout: 100,
    });
    const closed = closeReason(session);
    const data = "x".repeat(8 * 1024);
    for (let i = 0; i < 16; i++) session.sendMessage(data); // 128 KiB: over the bound, under the burst ceiling
    expect(await closed).toBe("slow-consumer");
    expect(response.bodyUsed).toBe(false);
    // The body was errored: a late reader learns it at once and frees what was queued.
    await expect((response.body as ReadableStream).getReader().read()).rejects.toThrow(/dropped/);
  });

  it("a burst larger than maxBufferedBytes reaches a client that reads it in time, whole", async () => {
    const { session, response } = fromRequest(new Request("http://local/"), { maxBufferedBytes: 64 * 1024 });
    const data = "y".repeat(1024);
    for (let i = 0; i < 400; i++) session.sendMessage(data); // 400 KiB in one turn, under the 512 KiB ceiling
    const body = readBody(response);
    await waitFor(() => body.events.length === 400, "every event");
    expect(session.getConnectionState()).toBe("CONNECTED");
    await body.stop();
  });
});

describe("Hono on @hono/node-server, beside node:http sessions in the same process", () => {
  let servers: TestServer[] = [];
  afterEach(async () => {
    for (const server of servers) await server.close();
    servers = [];
  });

  it("one channel feeds both; a real eventsource client on Hono reconnects after a drop and replays", async () => {
    const channel = new BroadcastStream("shared", { historySize: 50 });
    const honoSessions: Session[] = [];
    const app = new Hono();
    app.get("/events", (c) => {
      const { session, response } = fromRequest(c.req.raw, { retryInterval: 50 });
      honoSessions.push(session);
      channel.register(session);
      return response;
    });
    const hono = await listen(createServer(getRequestListener(app.fetch)));
    const node = await listen(createServer((req, res) => channel.register(new Session(req, res))));
    servers = [hono, node];

    const received = { hono: [] as string[], node: [] as string[] };
    const lastIds: (string | undefined)[] = [];
    const viaHono = new EventSource(`${hono.url}/events`);
    const viaNode = new EventSource(`${node.url}/`);
    cleanups.push(
      () => viaHono.close(),
      () => viaNode.close(),
    );
    viaHono.onmessage = (event) => received.hono.push(`${event.lastEventId}:${event.data}`);
    viaNode.onmessage = (event) => received.node.push(`${event.lastEventId}:${event.data}`);
    await waitFor(() => channel.getActiveConnections() === 2, "both clients to join");

    const ids = [channel.broadcastAll("a"), channel.broadcastAll("b")];
    await waitFor(() => received.hono.length === 2 && received.node.length === 2, "a and b on both");
    expect(received.node).toEqual(received.hono);

    // The server drops the Hono client; it reconnects by itself with the Last-Event-ID it saw.
    honoSessions[0]?.close();
    await waitFor(() => channel.getActiveConnections() === 1, "the drop");
    ids.push(channel.broadcastAll("c"), channel.broadcastAll("d"));
    await waitFor(() => honoSessions.length === 2, "the reconnect");
    lastIds.push(honoSessions[1]?.lastEventId);
    ids.push(channel.broadcastAll("e"));
    await waitFor(() => received.hono.length === 5 && received.node.length === 5, "every event on both");
    expect(lastIds).toEqual([ids[1]]);
    const expected = ["a", "b", "c", "d", "e"].map((data, i) => `${ids[i]}:${data}`);
    expect(received.hono).toEqual(expected);
    expect(received.node).toEqual(expected);
    viaHono.close();
    viaNode.close();
    await waitFor(() => channel.getActiveConnections() === 0, "both to leave");
    await sleep(10);
  });
});
