import { connect, type Socket } from "node:net";
import { config, of, VirtualTimeScheduler } from "rxjs";
import { afterEach, describe, expect, it } from "vitest";
import { heartbeatTimers } from "../src/heartbeat.js";
import { BroadcastStream, type HistoryGapEvent, Session, type SessionLifecycleEvent } from "../src/index.js";
import { flushQueues } from "../src/session/flushQueue.js";
import { sessionHistories } from "../src/session/historyStore.js";
import { nextExchange, sleep, startServer, type TestServer, waitFor } from "./helpers/server.js";
import { sessionServer } from "./helpers/sessions.js";

let server: TestServer | undefined;
let app: Awaited<ReturnType<typeof sessionServer>> | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  config.onUnhandledError = null;
  for (const socket of sockets.splice(0)) socket.destroy();
  await app?.close();
  app = undefined;
  await server?.close();
  server = undefined;
});

let n = 0;
const uniqueSid = () => `lifecycle-${process.pid}-${++n}`;

/** A raw client that sends a GET and then never reads: its socket buffers fill and stay full. */
async function stuckClient(url: string, path = "/"): Promise<Socket> {
  const socket = connect(Number(new URL(url).port), "127.0.0.1");
  sockets.push(socket);
  socket.on("error", () => {});
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`);
  socket.pause();
  return socket;
}

/** The type of each lifecycle event, in order, from the EventEmitter and from lifecycle$. */
function recordLifecycle(session: Session): { emitted: string[]; observed: string[] } {
  const emitted: string[] = [];
  const observed: string[] = [];
  for (const type of ["message-sent", "history-gap", "source-error", "session-closed"] as const) {
    session.on(type, (e: SessionLifecycleEvent) => emitted.push(e.type));
  }
  session.lifecycle$.subscribe((e) => observed.push(e.type));
  return { emitted, observed };
}

describe("a session never closes inside its constructor", () => {
  it("a client gone before the handler ran: session-closed reaches listeners attached after the constructor, and no timer is left", async () => {
    server = await startServer(() => {});
    const exchange = nextExchange(server.server);
    const socket = await stuckClient(server.url);
    const { req, res } = await exchange;
    socket.destroy();
    await new Promise((resolve) => res.once("close", resolve));
    const session = new Session(req, res, { heartbeatInterval: 60_000 });
    const { emitted, observed } = recordLifecycle(session);
    expect(session.getConnectionState()).toBe("CONNECTED");
    await waitFor(() => emitted.length > 0, "session-closed");
    expect(emitted).toEqual(["session-closed"]);
    expect(observed).toEqual(["session-closed"]);
    expect(session.closeEvent?.reason).toBe("client-disconnect");
    expect(heartbeatTimers()).toBe(0);
  });

  it("a replay larger than maxBufferedBytes keeps the session open and reaches the client whole", async () => {
    const sid = uniqueSid();
    app = await sessionServer(() => {}, { maxBufferedBytes: 64 * 1024, historySize: 500 });
    const first = await app.connect(`/?sid=${sid}`);
    const padding = "r".repeat(3000);
    const ids: string[] = [];
    // Sent at a pace this session's own 64 KiB bound allows: ten events a turn.
    for (let i = 0; i < 500; i++) {
      ids.push(first.session.sendMessage(`${i}:${padding}`));
      if (i % 10 === 9) await first.client.waitForEvents(i + 1);
    }
    first.client.destroy();
    await waitFor(() => first.session.getConnectionState() === "DISCONNECTED", "the first session to close");
    // Three reconnects, each replaying about 1.5 MB to a session allowed 64 KiB of backlog.
    for (let attempt = 0; attempt < 3; attempt++) {
      const again = await app.connect(`/?sid=${sid}`, { "last-event-id": ids[0] as string });
      const closed: string[] = [];
      again.session.on("session-closed", (e) => closed.push(e.reason));
      await again.client.waitForEvents(499, 10_000);
      expect(again.client.events.map((e) => e.id)).toEqual(ids.slice(1));
      expect(closed).toEqual([]);
      expect(again.session.getConnectionState()).toBe("CONNECTED");
      again.client.destroy();
      await waitFor(() => again.session.getConnectionState() === "DISCONNECTED", "the reconnect to close");
    }
  });
});

describe("nothing follows session-closed", () => {
  it("a sendMessage that trips the slow-consumer bound: message-sent, then session-closed, and the event stays replayable", async () => {
    const sid = uniqueSid();
    server = await startServer(() => {});
    const exchange = nextExchange(server.server);
    await stuckClient(server.url);
    const { req, res } = await exchange;
    const session = new Session(req, res, { sessionId: sid, maxBufferedBytes: 1024, maxBurstBytes: 4096 });
    const { emitted, observed } = recordLifecycle(session);
    const big = "b".repeat(8192);
    const id = session.sendMessage(big);
    expect(emitted).toEqual(["message-sent"]);
    await waitFor(() => emitted.length === 2, "session-closed");
    expect(emitted).toEqual(["message-sent", "session-closed"]);
    expect(observed).toEqual(emitted);
    expect(session.closeEvent?.reason).toBe("slow-consumer");
    // The id returned is the id of an event kept in history: a reconnect replays it.
    const kept = sessionHistories.peek(sid)?.last(1)[0];
    expect(kept?.frame.toString()).toBe(`id: ${id}\ndata: ${big}\n\n`);
  });

  it("history-gap reaches lifecycle$ and the emitter before session-closed, even when the session closes in the same tick", async () => {
    app = await sessionServer();
    const { session } = await app.connect(`/?sid=${uniqueSid()}`, { "last-event-id": "not-an-id" });
    // connect() resolves after the constructor; the deferred gap has gone out by then. Check with a fresh one:
    expect(session.getConnectionState()).toBe("CONNECTED");
    const events: string[] = [];
    const gaps: HistoryGapEvent[] = [];
    const second = new Promise<void>((resolve) => {
      app?.server.server.once("request", () => {
        const latest = app?.sessions.at(-1) as Session;
        latest.lifecycle$.subscribe((e) => events.push(`lifecycle$:${e.type}`));
        latest.on("history-gap", (e) => gaps.push(e));
        latest.on("session-closed", () => events.push("emitter:session-closed"));
        latest.close();
        resolve();
      });
    });
    await app.connect(`/?sid=${uniqueSid()}`, { "last-event-id": "not-an-id" });
    await second;
    await sleep(10);
    expect(events).toEqual(["lifecycle$:history-gap", "lifecycle$:session-closed", "emitter:session-closed"]);
    expect(gaps).toMatchObject([{ type: "history-gap", source: "session", reason: "malformed" }]);
  });

  it("a register whose session overflows: session-registered, then session-closed and session-deregistered; register returns an open membership", async () => {
    server = await startServer(() => {});
    const exchange = nextExchange(server.server);
    await stuckClient(server.url);
    const { req, res } = await exchange;
    const session = new Session(req, res, { maxBufferedBytes: 1024, maxBurstBytes: 4096 });
    const channel = new BroadcastStream(`overflow-${++n}`);
    const events: string[] = [];
    for (const type of ["session-registered", "session-closed", "session-deregistered"] as const) {
      channel.on(type, () => events.push(type));
    }
    session.sendMessage("b".repeat(8192));
    const membership = channel.register(session);
    expect(membership.closed).toBe(false);
    expect(events).toEqual(["session-registered"]);
    await waitFor(() => events.length === 3, "the close");
    expect(events).toEqual(["session-registered", "session-closed", "session-deregistered"]);
    expect(membership.closed).toBe(true);
  });
});

describe("a throwing listener", () => {
  it("does not stall the other sessions, and is reported, not swallowed", async () => {
    const reported: unknown[] = [];
    config.onUnhandledError = (error) => reported.push(error);
    const channel = new BroadcastStream(`throwing-${++n}`);
    app = await sessionServer(
      (session, req) => {
        channel.register(session);
        if (req.url?.includes("stuck")) {
          session.on("session-closed", () => {
            throw new Error("listener bug");
          });
        }
      },
      { maxBufferedBytes: 64 * 1024, maxBurstBytes: 256 * 1024, drainTimeout: 200 },
    );
    await stuckClient(app.server.url, "/?stuck");
    await waitFor(() => app?.sessions.length === 1, "the stuck session");
    const healthy = await app.connect();
    const stuck = app.sessions[0] as Session;
    const padding = "p".repeat(1000);
    let sent = 0;
    // Batches a healthy client drains at once, until the stuck one has been dropped.
    while (stuck.getConnectionState() === "CONNECTED" && sent < 40_000) {
      for (let i = 0; i < 100; i++) channel.broadcastAll(`${sent++}:${padding}`);
      await healthy.client.waitForEvents(sent);
    }
    expect(stuck.closeEvent?.reason).toBe("slow-consumer");
    channel.broadcastAll("after");
    await healthy.client.waitForEvents(sent + 1);
    expect(healthy.client.events.at(-1)?.data).toBe("after");
    expect(healthy.session.getConnectionState()).toBe("CONNECTED");
    await waitFor(() => reported.length === 1, "the listener error to be reported");
    expect((reported[0] as Error).message).toBe("listener bug");
  });

  it("inside broadcastFrom does not kill the source", async () => {
    const reported: unknown[] = [];
    config.onUnhandledError = (error) => reported.push(error);
    const channel = new BroadcastStream(`throwing-source-${++n}`);
    channel.on("broadcast-success", () => {
      throw new Error("listener bug");
    });
    const sourceErrors: unknown[] = [];
    channel.on("source-error", (e) => sourceErrors.push(e.error));
    const seen: string[] = [];
    channel.subscribe((e) => seen.push(e.data));
    channel.broadcastFrom(of("a", "b", "c"));
    expect(seen).toEqual(["a", "b", "c"]);
    expect(sourceErrors).toEqual([]);
    await waitFor(() => reported.length === 3, "three reports");
  });
});

describe("sources and shared resources are released", () => {
  it("5000 completed pipeFrom sources leave nothing held by the session", async () => {
    app = await sessionServer();
    const { session } = await app.connect();
    for (let i = 0; i < 5000; i++) session.pipeFrom(of(`m${i}`));
    expect((session as unknown as { held?: unknown[] }).held ?? []).toHaveLength(0);
    expect(session.getConnectionState()).toBe("CONNECTED");
  });

  it("200,000 completed broadcastFrom sources leave nothing held by the channel", () => {
    const channel = new BroadcastStream(`sources-${++n}`, { historySize: 1 });
    for (let i = 0; i < 200_000; i++) channel.broadcastFrom(of(i));
    const sources = (channel as unknown as { sources: { _finalizers: unknown[] | null } }).sources;
    expect(sources._finalizers ?? []).toHaveLength(0);
  });

  it("3000 distinct heartbeat and flush periods are all dropped once their sessions close", async () => {
    await waitFor(() => heartbeatTimers() === 0 && flushQueues.size === 0, "earlier sessions to close");
    let i = 0;
    server = await startServer((req, res) => {
      i += 1;
      const session = new Session(req, res, { heartbeatInterval: 60_000 + i, flushInterval: i, historyTtl: 0 });
      session.close();
    });
    const { connectRaw } = await import("./helpers/rawClient.js");
    for (let batch = 0; batch < 30; batch++) {
      const clients = await Promise.all(Array.from({ length: 100 }, () => connectRaw(`${server?.url}/`)));
      await Promise.all(clients.map((c) => c.waitForEnd()));
    }
    expect(i).toBe(3000);
    expect(heartbeatTimers()).toBe(0);
    expect(flushQueues.size).toBe(0);
  });
});

describe("small items", () => {
  it("a source that fails with a null-prototype object still closes the session, with a warning that does not throw", async () => {
    app = await sessionServer();
    const { session } = await app.connect(`/?sid=${encodeURIComponent("ctl\r\nchars")}`);
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      session.inbound.error(Object.create(null));
      expect(session.getConnectionState()).toBe("DISCONNECTED");
      expect(session.closeEvent?.reason).toBe("source-error");
      await waitFor(() => warnings.length > 0, "the warning");
      expect(warnings[0]?.message).toContain("ctl\\r\\nchars");
      expect(warnings[0]?.message).not.toMatch(/[\r\n]/);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("the historyTtl sweep runs on the injected scheduler", async () => {
    const scheduler = new VirtualTimeScheduler();
    scheduler.maxFrames = 10_000_000;
    const sid = uniqueSid();
    app = await sessionServer(() => {}, { scheduler, historyTtl: 60_000, heartbeatInterval: 1000 });
    const { session } = await app.connect(`/?sid=${sid}`);
    session.close();
    expect(sessionHistories.has(sid)).toBe(true);
    scheduler.flush(); // runs virtual time past the TTL at once
    expect(sessionHistories.has(sid)).toBe(false);
  });

  it("close() on a client that never reads drops the socket after drainTimeout", async () => {
    server = await startServer(() => {});
    const exchange = nextExchange(server.server);
    await stuckClient(server.url);
    const { req, res } = await exchange;
    const session = new Session(req, res, { drainTimeout: 200, maxBufferedBytes: 64 * 1024 * 1024 });
    const padding = "c".repeat(64 * 1024);
    // Far more than the kernel buffers hold, so the response cannot finish.
    for (let i = 0; i < 100; i++) session.sendMessage(padding);
    await sleep(20);
    session.close();
    expect(res.socket?.destroyed).toBe(false);
    await waitFor(() => res.socket === null || res.socket.destroyed === true, "the socket to be dropped", 3000);
  });
});
