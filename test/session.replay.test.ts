import type { IncomingMessage, ServerResponse } from "node:http";
import { EventSource } from "eventsource";
import { afterEach, describe, expect, it } from "vitest";
import { type HistoryGapEvent, Session, type SessionOptions } from "../src/index.js";
import { sessionHistories } from "../src/session/historyStore.js";
import { connectRaw, type RawClient } from "./helpers/rawClient.js";
import { sleep, startServer, type TestServer, waitFor } from "./helpers/server.js";

let server: TestServer | undefined;
const clients: { destroy(): void }[] = [];
let counter = 0;

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await server?.close();
  server = undefined;
});

/** A server that opens a session per request, with the sessionId from `?sid=`; `sessions` lists them in order. */
async function sessionServer(options: SessionOptions = {}, onSession: (session: Session) => void = () => {}) {
  const sessions: Session[] = [];
  server = await startServer((req: IncomingMessage, res: ServerResponse) => {
    const sid = new URL(req.url ?? "/", "http://x").searchParams.get("sid") ?? undefined;
    const session = new Session(req, res, { ...options, ...(sid === undefined ? {} : { sessionId: sid }) });
    sessions.push(session);
    onSession(session);
  });
  const url = server.url;
  return {
    sessions,
    async connect(path: string, headers?: Record<string, string>): Promise<RawClient> {
      const client = await connectRaw(`${url}${path}`, headers);
      clients.push(client);
      return client;
    },
  };
}

const uniqueSid = () => `replay-${process.pid}-${++counter}`;

describe("session history and Last-Event-ID replay", () => {
  it.each([
    ["the Last-Event-ID header", (id: string) => ({ path: "", headers: { "last-event-id": id } })],
    ["the lastEventId query", (id: string) => ({ path: `&lastEventId=${encodeURIComponent(id)}`, headers: {} })],
    [
      "the evs_last_event_id query",
      (id: string) => ({ path: `&evs_last_event_id=${encodeURIComponent(id)}`, headers: {} }),
    ],
  ])("replays the events after the id from %s, then continues live", async (_, carry) => {
    const sid = uniqueSid();
    const app = await sessionServer();
    const first = await app.connect(`/?sid=${sid}`);
    const session = app.sessions[0] as Session;
    const ids = ["m1", "m2", "m3", "m4", "m5"].map((m) => session.sendMessage(m));
    await first.waitForEvents(5);
    first.destroy();
    await waitFor(() => session.getConnectionState() === "DISCONNECTED", "the first session to close");

    const { path, headers } = carry(ids[1] as string);
    const second = await app.connect(`/?sid=${sid}${path}`, headers);
    const resumed = app.sessions[1] as Session;
    expect(resumed.getSessionId()).toBe(sid);
    resumed.sendMessage("m6");
    await second.waitForEvents(4);
    expect(second.events.map((e) => e.data)).toEqual(["m3", "m4", "m5", "m6"]);
    expect(second.events.map((e) => e.id).slice(0, 3)).toEqual(ids.slice(2));
    expect(second.text().startsWith("retry: 1000\n\nid: ")).toBe(true);
  });

  it("sends nothing old to a client without a Last-Event-ID, unless replayLast asks for it", async () => {
    const sid = uniqueSid();
    const app = await sessionServer();
    const first = await app.connect(`/?sid=${sid}`);
    for (const m of ["a", "b", "c"]) (app.sessions[0] as Session).sendMessage(m);
    await first.waitForEvents(3);
    const fresh = await app.connect(`/?sid=${sid}`);
    (app.sessions[1] as Session).sendMessage("d");
    await fresh.waitForEvents(1);
    expect(fresh.events.map((e) => e.data)).toEqual(["d"]);

    const withLast = await sessionServer({ replayLast: 2 });
    const third = await withLast.connect(`/?sid=${sid}`);
    (withLast.sessions[0] as Session).sendMessage("e");
    await third.waitForEvents(3);
    expect(third.events.map((e) => e.data)).toEqual(["c", "d", "e"]);
  });

  it.each([
    ["unknown", () => `${Date.now() + 60_000}-0`],
    ["malformed", () => "not-an-id"],
    ["malformed", () => "9".repeat(10_000)],
    ["too-old", () => "1000-0"],
  ])("signals a %s Last-Event-ID as a history gap, on the wire and as a lifecycle event", async (reason, makeId) => {
    const sid = uniqueSid();
    const gaps: HistoryGapEvent[] = [];
    // Listeners attached right after construction, as an application would, hear the gap.
    const app = await sessionServer({}, (session) => session.on("history-gap", (gap) => gaps.push(gap)));
    const first = await app.connect(`/?sid=${sid}`);
    (app.sessions[0] as Session).sendMessage("before");
    await first.waitForEvents(1);
    const second = await app.connect(`/?sid=${sid}`, { "last-event-id": makeId() });
    const resumed = app.sessions[1] as Session;
    resumed.sendMessage("after");
    await second.waitForEvents(2);
    expect(second.events[0]).toEqual({
      event: "history-gap",
      data: JSON.stringify({ source: "session", reason }),
      id: undefined,
    });
    expect(second.events[1]?.data).toBe("after");
    await waitFor(() => gaps.length > 0, "the history-gap lifecycle event");
    expect(gaps[0]).toMatchObject({ type: "history-gap", source: "session", reason, sessionId: sid });
    expect((gaps[0] as HistoryGapEvent).lastEventId.length).toBeLessThanOrEqual(1024);
  });

  it("signals a gap when more events were sent than historySize keeps", async () => {
    const sid = uniqueSid();
    const app = await sessionServer({ historySize: 3 });
    const first = await app.connect(`/?sid=${sid}`);
    const ids = Array.from({ length: 6 }, (_, i) => (app.sessions[0] as Session).sendMessage(`m${i}`));
    await first.waitForEvents(6);
    const tooOld = await app.connect(`/?sid=${sid}`, { "last-event-id": ids[0] as string });
    const covered = await app.connect(`/?sid=${sid}`, { "last-event-id": ids[2] as string });
    await tooOld.waitForEvents(1);
    await covered.waitForEvents(3);
    expect(tooOld.events[0]?.event).toBe("history-gap");
    expect(covered.events.map((e) => e.data)).toEqual(["m3", "m4", "m5"]);
  });

  it("expires a closed session's history after historyTtl", async () => {
    const sid = uniqueSid();
    const app = await sessionServer({ historyTtl: 30 });
    const first = await app.connect(`/?sid=${sid}`);
    const id = (app.sessions[0] as Session).sendMessage("seen");
    (app.sessions[0] as Session).sendMessage("missed, then expired");
    await first.waitForEvents(2);
    expect(sessionHistories.has(sid)).toBe(true);
    first.destroy();
    await waitFor(() => !sessionHistories.has(sid), "the history to expire");
    const late = await app.connect(`/?sid=${sid}`, { "last-event-id": id });
    await late.waitForEvents(1);
    expect(late.events[0]).toMatchObject({ event: "history-gap", data: '{"source":"session","reason":"too-old"}' });
  });

  it("signals too-old, never a silent skip, when the id's history expired and another connection created it again", async () => {
    const sid = uniqueSid();
    const app = await sessionServer({ historyTtl: 100 });
    const a = await app.connect(`/?sid=${sid}`);
    const e1 = (app.sessions[0] as Session).sendMessage("e1");
    (app.sessions[0] as Session).sendMessage("e2"); // this client is taken to have seen e1 only
    await a.waitForEvents(2);
    a.destroy();
    await waitFor(() => !sessionHistories.has(sid), "the history to expire");
    const other = await app.connect(`/?sid=${sid}`); // a new connection with the same id, no Last-Event-ID
    (app.sessions[1] as Session).sendMessage("e3");
    await other.waitForEvents(1);
    const back = await app.connect(`/?sid=${sid}`, { "last-event-id": e1 });
    (app.sessions[2] as Session).sendMessage("e4");
    await back.waitForEvents(2);
    // e2 went with the expired history: the client is told to resync, then the stream goes on live.
    expect(back.events[0]).toMatchObject({ event: "history-gap", data: '{"source":"session","reason":"too-old"}' });
    expect(back.events[1]?.data).toBe("e4");
  });

  it("keeps history while any session with the id is open, however long", async () => {
    const sid = uniqueSid();
    const app = await sessionServer({ historyTtl: 1 });
    const a = await app.connect(`/?sid=${sid}`);
    await app.connect(`/?sid=${sid}`);
    (app.sessions[0] as Session).sendMessage("x");
    await a.waitForEvents(1);
    a.destroy();
    await sleep(30);
    expect(sessionHistories.has(sid)).toBe(true);
  });

  it("lets the real eventsource client reconnect after server-side drops without losing or repeating events", async () => {
    const sid = uniqueSid();
    const app = await sessionServer({ retryInterval: 5 });
    const received: string[] = [];
    const source = new EventSource(`${server?.url}/?sid=${sid}`);
    clients.push({ destroy: () => source.close() });
    source.onmessage = (event) => received.push(event.data);
    await waitFor(() => app.sessions.length === 1, "the first connection");
    const total = 300;
    let sent = 0;
    while (sent < total) {
      const current = app.sessions.at(-1) as Session;
      if (current.getConnectionState() === "CONNECTED") {
        current.sendMessage(`n${sent}`);
        sent += 1;
        // Every 50 events, drop the connection from the server side, with events still queued for it.
        if (sent % 50 === 0) (current as unknown as { connection: { destroy(): void } }).connection.destroy();
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(() => received.length >= total, `all ${total} events (have ${received.length})`, 15_000);
    expect(received).toEqual(Array.from({ length: total }, (_, i) => `n${i}`));
    expect(app.sessions.length).toBeGreaterThan(1);
  });
});
