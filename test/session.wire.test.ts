import { afterEach, describe, expect, it } from "vitest";
import { EventFlareError, Session, type SessionClosedEvent, type SessionOptions } from "../src/index.js";
import { connectRaw, type RawClient } from "./helpers/rawClient.js";
import { nextExchange, startServer, type TestServer, waitFor } from "./helpers/server.js";

let server: TestServer | undefined;
const clients: RawClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await server?.close();
  server = undefined;
});

/** Starts a server whose every request becomes a session; resolves with the session and a raw client on it. */
async function open(options?: SessionOptions, path = "/", headers?: Record<string, string>) {
  server = await startServer(() => {});
  const exchange = nextExchange(server.server);
  const clientPromise = connectRaw(`${server.url}${path}`, headers);
  const { req, res } = await exchange;
  const session = new Session(req, res, options);
  const client = await clientPromise;
  clients.push(client);
  return { session, client, req, res };
}

describe("Session on the wire", () => {
  it("sends the SSE headers and a retry line at once", async () => {
    const { client } = await open();
    expect(client.status).toBe(200);
    expect(client.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    expect(client.headers["cache-control"]).toBe("no-cache, no-transform");
    expect(client.headers["x-accel-buffering"]).toBe("no");
    expect(client.headers.connection).toBe("keep-alive");
    await waitFor(() => client.text().length > 0, "the retry line");
    expect(client.text()).toBe("retry: 1000\n\n");
  });

  it("sends the configured retryInterval", async () => {
    const { client } = await open({ retryInterval: 2000 });
    await waitFor(() => client.retries.length > 0, "retry");
    expect(client.retries).toEqual([2000]);
  });

  it("gives every message an id, and the event name when one is passed", async () => {
    const { session, client } = await open();
    const first = session.sendMessage("mock data", "AAPL-stock-price");
    const second = session.sendMessage(JSON.stringify({ stockName: "AAPL", currentStockPrice: "245.65" }));
    expect(first).toMatch(/^\d+-\d+$/);
    await client.waitForEvents(2);
    expect(client.text()).toBe(
      `retry: 1000\n\nevent: AAPL-stock-price\nid: ${first}\ndata: mock data\n\n` +
        `id: ${second}\ndata: {"stockName":"AAPL","currentStockPrice":"245.65"}\n\n`,
    );
  });

  it("issues strictly increasing ids", async () => {
    const { session } = await open();
    const ids = Array.from({ length: 50 }, (_, i) => session.sendMessage(`m${i}`));
    const parsed = ids.map((id) => id.split("-").map(Number) as [number, number]);
    for (let i = 1; i < parsed.length; i++) {
      const [a, b] = [parsed[i - 1] as [number, number], parsed[i] as [number, number]];
      expect(a[0] < b[0] || (a[0] === b[0] && a[1] < b[1])).toBe(true);
    }
  });

  it("serializes non-string messages as JSON and rejects values JSON cannot represent", async () => {
    const { session, client } = await open();
    session.sendMessage({ price: 1.5 });
    session.sendMessage(42);
    session.sendMessage(null);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [undefined, () => 1, Symbol("s"), 10n, cyclic]) {
      expect(() => session.sendMessage(bad)).toThrow(expect.objectContaining({ code: "INVALID_MESSAGE" }));
    }
    session.sendMessage("after");
    const events = await client.waitForEvents(4);
    expect(events.map((e) => e.data)).toEqual(['{"price":1.5}', "42", "null", "after"]);
  });

  it("rejects an event name with a newline or NUL before writing anything", async () => {
    const { session, client } = await open();
    for (const name of ["a\nb", "a\rb", "a\0b"]) {
      expect(() => session.sendMessage("x", name)).toThrow(expect.objectContaining({ code: "INVALID_FIELD" }));
    }
    session.sendMessage("ok", "fine");
    await client.waitForEvents(1);
    expect(client.events.map((e) => [e.event, e.data])).toEqual([["fine", "ok"]]);
    expect(client.text()).not.toContain("a\n");
  });

  it("sends heartbeats as comment lines", async () => {
    const { client } = await open({ heartbeatInterval: 20 });
    await waitFor(() => client.comments.length >= 2, "two heartbeats");
    expect(client.text().startsWith("retry: 1000\n\n:\n:\n")).toBe(true);
    expect(client.events).toEqual([]);
  });

  it("emits message-sent with the id, event and data", async () => {
    const { session } = await open();
    const seen: unknown[] = [];
    session.on("message-sent", (event) => seen.push(event));
    const id = session.sendMessage("hello", "greeting");
    expect(seen).toEqual([
      { type: "message-sent", sessionId: session.getSessionId(), id, event: "greeting", data: "hello" },
    ]);
  });

  it("uses a random UUID as the default session id, or the given sessionId", async () => {
    const { session } = await open();
    expect(session.getSessionId()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    await server?.close();
    const custom = await open({ sessionId: "my-custom-session-id" });
    expect(custom.session.getSessionId()).toBe("my-custom-session-id");
  });

  it("closes once when the client disconnects: DISCONNECTED, one session-closed, sendMessage throws SESSION_CLOSED", async () => {
    const { session, client } = await open();
    const closed: SessionClosedEvent[] = [];
    session.on("session-closed", (event) => closed.push(event));
    expect(session.getConnectionState()).toBe("CONNECTED");
    client.destroy();
    await waitFor(() => closed.length > 0, "session-closed");
    expect(session.getConnectionState()).toBe("DISCONNECTED");
    session.close();
    expect(closed).toEqual([
      { type: "session-closed", sessionId: session.getSessionId(), reason: "client-disconnect" },
    ]);
    const error = (() => {
      try {
        session.sendMessage("late");
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(EventFlareError);
    expect(error).toMatchObject({ code: "SESSION_CLOSED" });
  });

  it("close() writes what is queued, ends the response and reports server-close", async () => {
    const { session, client } = await open();
    const reasons: string[] = [];
    session.on("session-closed", (event) => reasons.push(event.reason));
    session.sendMessage("last words");
    session.close();
    await client.waitForEnd();
    expect(client.events.map((e) => e.data)).toEqual(["last words"]);
    expect(reasons).toEqual(["server-close"]);
    expect(() => session.sendMessage("x")).toThrow(expect.objectContaining({ code: "SESSION_CLOSED" }));
  });

  it("survives a client that disconnects in the middle of a large write", async () => {
    const { session, client } = await open({ maxBufferedBytes: 64 * 1024 * 1024 });
    const big = "x".repeat(256 * 1024);
    const closed = new Promise<SessionClosedEvent>((resolve) => session.once("session-closed", resolve));
    for (let i = 0; i < 20; i++) session.sendMessage(big);
    await waitFor(() => client.text().length > 0, "the first bytes");
    client.destroy();
    // Writes keep coming after the socket is gone: none may throw or crash the process.
    const keepWriting = setInterval(() => {
      if (session.getConnectionState() === "CONNECTED") session.sendMessage(big);
    }, 1);
    const event = await closed;
    clearInterval(keepWriting);
    expect(["client-disconnect", "write-error"]).toContain(event.reason);
    expect(session.getConnectionState()).toBe("DISCONNECTED");
  });

  it("ends a session whose client left before the handler ran", async () => {
    server = await startServer(() => {});
    const exchange = nextExchange(server.server);
    const client = await connectRawNoWait(`${server.url}/`);
    const { req, res } = await exchange;
    client.destroy();
    await waitFor(() => req.socket.destroyed, "the socket to close");
    await new Promise((resolve) => setImmediate(resolve));
    const session = new Session(req, res);
    const closed = await new Promise<SessionClosedEvent>((resolve) => session.once("session-closed", resolve));
    expect(closed.reason).toBe("client-disconnect");
  });
});

/** Opens a request and resolves as soon as it is sent, without waiting for response headers. */
async function connectRawNoWait(url: string): Promise<{ destroy(): void }> {
  const { request } = await import("node:http");
  const req = request(url);
  req.on("error", () => {});
  req.end();
  return { destroy: () => req.destroy() };
}
