import type { IncomingMessage } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { BroadcastStream, type HistoryGapEvent, Session } from "../src/index.js";
import { forkFixture } from "./helpers/child.js";
import { connectRaw, type RawClient } from "./helpers/rawClient.js";
import { startServer, type TestServer, waitFor } from "./helpers/server.js";
import { sessionServer } from "./helpers/sessions.js";

let app: Awaited<ReturnType<typeof sessionServer>> | undefined;
let server: TestServer | undefined;
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  await app?.close();
  await server?.close();
  app = undefined;
  server = undefined;
});

let n = 0;
const channelId = () => `replay-channel-${++n}`;
const datas = (client: RawClient) => client.events.filter((e) => e.event !== "history-gap").map((e) => e.data);

describe("channel history and Last-Event-ID replay", () => {
  it("replays every kept channel event after the client's id at register, then goes live", async () => {
    const channel = new BroadcastStream(channelId());
    app = await sessionServer((session) => channel.register(session));
    const first = await app.connect();
    const ids = ["e1", "e2", "e3"].map((d) => channel.broadcastAll(d));
    await first.client.waitForEvents(3);
    first.client.destroy();
    await waitFor(() => channel.getActiveConnections() === 0, "the first client to leave");
    channel.broadcastAll("e4");
    channel.broadcastAll("e5");
    const second = await app.connect("/", { "last-event-id": ids[1] as string });
    channel.broadcastAll("e6");
    await second.client.waitForEvents(4);
    expect(datas(second.client)).toEqual(["e3", "e4", "e5", "e6"]);
  });

  it("sends no replay to a fresh client unless replayLast asks for the newest N", async () => {
    const plain = new BroadcastStream(channelId());
    const lastTwo = new BroadcastStream(channelId(), { replayLast: 2 });
    for (const d of ["a", "b", "c"]) {
      plain.broadcastAll(d);
      lastTwo.broadcastAll(d);
    }
    app = await sessionServer((session, req) => {
      (req.url?.includes("last") ? lastTwo : plain).register(session);
    });
    const fresh = await app.connect("/");
    const withLast = await app.connect("/?last");
    plain.broadcastAll("live");
    lastTwo.broadcastAll("live");
    await fresh.client.waitForEvents(1);
    await withLast.client.waitForEvents(3);
    expect(datas(fresh.client)).toEqual(["live"]);
    expect(datas(withLast.client)).toEqual(["b", "c", "live"]);
  });

  it.each([
    ["too-old", { historySize: 2 }, (ids: string[]) => ids[0] as string],
    ["unknown", {}, () => `${Date.now() + 3_600_000}-0`],
    ["malformed", {}, () => "x".repeat(10_000)],
  ])("signals a %s id as history-gap for the channel", async (reason, options, pick) => {
    const id = channelId();
    const channel = new BroadcastStream(id, options);
    const gaps: HistoryGapEvent[] = [];
    app = await sessionServer((session) => {
      session.on("history-gap", (gap) => gaps.push(gap));
      channel.register(session);
    });
    const ids = ["a", "b", "c", "d"].map((d) => channel.broadcastAll(d));
    const { client } = await app.connect("/", { "last-event-id": pick(ids) });
    channel.broadcastAll("live");
    await client.waitForEvents(2);
    expect(client.events[0]).toEqual({
      event: "history-gap",
      data: JSON.stringify({ source: `channel:${id}`, reason }),
      id: undefined,
    });
    expect(client.events.at(-1)?.data).toBe("live");
    await waitFor(() => gaps.length === 1, "the lifecycle event");
    expect(gaps[0]).toMatchObject({ source: `channel:${id}`, reason });
  });

  it("drops events older than historyMaxAge and signals the gap", async () => {
    const channel = new BroadcastStream(channelId(), { historyMaxAge: 20 });
    const old = channel.broadcastAll("old");
    channel.broadcastAll("also old");
    await new Promise((resolve) => setTimeout(resolve, 60));
    app = await sessionServer((session) => channel.register(session));
    const { client } = await app.connect("/", { "last-event-id": old });
    await client.waitForEvents(1);
    expect(client.events[0]?.event).toBe("history-gap");
    expect(client.events[0]?.data).toContain("too-old");
  });

  it("resumes two channels from one Last-Event-ID, merged in id order, without duplicates", async () => {
    const a = new BroadcastStream(channelId());
    const b = new BroadcastStream(channelId());
    app = await sessionServer((session) => {
      a.register(session);
      b.register(session);
    });
    const first = await app.connect();
    a.broadcastAll("a1");
    b.broadcastAll("b1");
    const seen = a.broadcastAll("a2");
    await first.client.waitForEvents(3);
    first.client.destroy();
    await waitFor(() => a.getActiveConnections() === 0 && b.getActiveConnections() === 0, "the client to leave");
    b.broadcastAll("b2");
    a.broadcastAll("a3");
    b.broadcastAll("b3");
    const second = await app.connect("/", { "last-event-id": seen });
    await second.client.waitForEvents(3);
    expect(datas(second.client)).toEqual(["b2", "a3", "b3"]);
    const ids = second.client.events.map((e) => e.id as string);
    expect(new Set(ids).size).toBe(3);
  });

  it("hands over from replay to live with no duplicate and no gap while broadcasts race the registration", async () => {
    const channel = new BroadcastStream(channelId(), { historySize: 10_000 });
    // Registration is delayed by a random number of turns after the session opens, while a broadcaster runs
    // on every turn and a lifecycle handler broadcasts right after each registration.
    const sessions: Session[] = [];
    server = await startServer((req: IncomingMessage, res) => {
      const session = new Session(req, res);
      sessions.push(session);
      let turns = Math.floor(Math.random() * 4);
      const later = (): void => {
        if (turns-- > 0) return void setImmediate(later);
        if (session.getConnectionState() === "CONNECTED") channel.register(session);
      };
      later();
    });
    channel.on("session-registered", () => channel.broadcastAll(`r${sent++}`));
    let sent = 0;
    let running = true;
    const pump = (): void => {
      if (!running) return;
      channel.broadcastAll(`r${sent++}`);
      setImmediate(pump);
    };
    pump();
    cleanups.push(() => {
      running = false;
    });

    const received: string[] = [];
    let lastId: string | undefined;
    for (let round = 0; round < 40; round++) {
      const client = await connectRaw(`${server.url}/`, lastId === undefined ? {} : { "last-event-id": lastId });
      const target = received.length + 1 + Math.floor(Math.random() * 20);
      await waitFor(() => received.length + client.events.length >= target, "events this round");
      client.destroy();
      for (const event of client.events) {
        expect(event.event).not.toBe("history-gap");
        received.push(event.data);
        lastId = event.id;
      }
    }
    running = false;
    const first = Number((received[0] as string).slice(1));
    expect(received).toEqual(received.map((_, i) => `r${first + i}`));
    expect(sessions.length).toBe(40);
  });
});

describe("chaos: random server-side drops", () => {
  it("every eventsource client ends with the complete sequence, in order, with no duplicates", async () => {
    const CLIENTS = 200;
    const EVENTS = 5000;
    const channel = new BroadcastStream(channelId(), { historySize: EVENTS });
    const open: IncomingMessage[] = [];
    server = await startServer((req, res) => {
      const session = new Session(req, res, { retryInterval: 5, heartbeatInterval: 60_000 });
      channel.register(session);
      open.push(req);
      session.once("session-closed", () => open.splice(open.indexOf(req), 1));
    });
    // The 200 real eventsource clients run in their own process, on the other core.
    const clients = forkFixture("chaos-clients.mjs", {
      URL: `${server.url}/`,
      CLIENTS: String(CLIENTS),
      EVENTS: String(EVENTS),
    });
    cleanups.push(() => void clients.kill());
    await clients.next("connected", 60_000);
    await waitFor(() => channel.getActiveConnections() === CLIENTS, "every client to register", 20_000);
    const primed = clients.next("primed", 20_000);
    channel.broadcastAll("start", "start");
    await primed;

    const done = clients.next<{ problems: string[] }>("done", 150_000);
    let drops = 0;
    for (let i = 0; i < EVENTS; i++) {
      channel.broadcastAll(String(i));
      if (Math.random() < 0.04 && open.length > 0) {
        // Server-side socket destroy, possibly with events still queued for that client.
        open[Math.floor(Math.random() * open.length)]?.socket.destroy();
        drops += 1;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    const { problems } = await done;
    expect(problems).toEqual([]);
    expect(drops).toBeGreaterThan(100);
  }, 180_000);
});
