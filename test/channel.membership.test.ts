import { createServer } from "node:http";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { BroadcastStream, type BroadcastSuccessEvent, Session } from "../src/index.js";
import { errorOf } from "./helpers/errors.js";
import { connectRaw, type RawClient } from "./helpers/rawClient.js";
import { listen, type TestServer, waitFor } from "./helpers/server.js";

let server: TestServer | undefined;
const closers: { destroy(): void }[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c.destroy();
  await server?.close();
  server = undefined;
});

let n = 0;

/** A server whose sessions take `?sid=` as sessionId; `?stuck` ones get a tiny backlog bound. */
async function appServer() {
  const sessions: Session[] = [];
  server = await listen(
    createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      const sid = url.searchParams.get("sid");
      const tight = url.searchParams.has("stuck") ? { maxBufferedBytes: 1024, maxBurstBytes: 4096 } : {};
      sessions.push(new Session(req, res, { sessionId: sid, ...tight }));
    }),
  );
  const url = server.url;
  return {
    sessions,
    async connect(path = "/", headers: Record<string, string> = {}): Promise<{ client: RawClient; session: Session }> {
      const before = sessions.length;
      const client = await connectRaw(`${url}${path}`, headers);
      closers.push(client);
      await waitFor(() => sessions.length > before, "the session");
      return { client, session: sessions[before] as Session };
    },
    async stuck(): Promise<Session> {
      const before = sessions.length;
      const socket: Socket = connect(Number(new URL(url).port), "127.0.0.1");
      closers.push(socket);
      socket.on("error", () => {});
      await new Promise((resolve) => socket.once("connect", resolve));
      socket.write("GET /?stuck HTTP/1.1\r\nHost: x\r\n\r\n");
      socket.pause();
      await waitFor(() => sessions.length > before, "the stuck session");
      return sessions[before] as Session;
    },
  };
}

const idOrder = (ids: (string | undefined)[]) =>
  ids
    .map((id) => (id ?? "").split("-").map(Number))
    .every(([ms = 0, seq = 0], i, all) => {
      const [pms = -1, pseq = -1] = all[i - 1] ?? [];
      return i === 0 || ms > pms || (ms === pms && seq > pseq);
    });

describe("broadcasting from a lifecycle handler", () => {
  it("keeps ids in order when a slow member is dropped during a broadcast and a handler broadcasts presence", async () => {
    const app = await appServer();
    const channel = new BroadcastStream(`presence-${++n}`);
    channel.on("session-deregistered", () => channel.broadcastAll("presence"));
    const slow = await app.stuck();
    const fast = await app.connect();
    channel.register(slow);
    channel.register(fast.session);
    channel.broadcastAll("f".repeat(8192), "fill");
    await fast.client.waitForEvents(2);
    expect(slow.closeEvent?.reason).toBe("slow-consumer");
    expect(fast.client.events.map((e) => e.event ?? e.data)).toEqual(["fill", "presence"]);
    expect(idOrder(fast.client.events.map((e) => e.id))).toBe(true);
  });
});

describe("register replays after what the session was already sent", () => {
  it("toggling a topic repeats nothing and never sends ids backwards", async () => {
    const app = await appServer();
    const news = new BroadcastStream(`news-${++n}`);
    const sports = new BroadcastStream(`sports-${n}`);
    const n0 = news.broadcastAll("n0");
    const { client, session } = await app.connect("/", { "last-event-id": n0 });
    news.register(session);
    sports.register(session);
    news.broadcastAll("n1");
    sports.broadcastAll("s1");
    news.broadcastAll("n2");
    await client.waitForEvents(3);
    news.deregister(session.getSessionId());
    sports.deregister(session.getSessionId());
    news.register(session);
    sports.register(session);
    news.broadcastAll("n3");
    await client.waitForEvents(4);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(client.events.map((e) => e.data)).toEqual(["n1", "s1", "n2", "n3"]);
    expect(idOrder(client.events.map((e) => e.id))).toBe(true);
  });

  it("sessions registered in several channels in the same turn still get every channel's replay, merged by id", async () => {
    const app = await appServer();
    const a = new BroadcastStream(`merge-a-${++n}`);
    const b = new BroadcastStream(`merge-b-${n}`);
    const start = a.broadcastAll("a0");
    const sent = ["b1", "a2", "b3", "a4"].map((m) => (m.startsWith("a") ? a : b).broadcastAll(m));
    const { client, session } = await app.connect("/", { "last-event-id": start });
    a.register(session);
    b.register(session);
    await client.waitForEvents(4);
    expect(client.events.map((e) => e.id)).toEqual(sent);
  });
});

describe("broadcastSome by id", () => {
  it("skips ids of members that just left instead of throwing, and keeps NOT_REGISTERED for ids never seen", async () => {
    const app = await appServer();
    const channel = new BroadcastStream(`some-${++n}`);
    const a = await app.connect();
    const b = await app.connect();
    channel.register(a.session);
    channel.register(b.session);
    const ids = [a.session.getSessionId(), b.session.getSessionId()];
    b.client.destroy();
    await waitFor(() => b.session.getConnectionState() === "DISCONNECTED", "b to close");
    const sent: BroadcastSuccessEvent[] = [];
    channel.on("broadcast-success", (e) => sent.push(e));
    channel.broadcastSome("to a; b just left", ids);
    expect(sent.at(-1)?.recipients).toBe(1);
    await a.client.waitForEvents(1);
    expect(a.client.events.map((e) => e.data)).toEqual(["to a; b just left"]);
    expect(errorOf(() => channel.broadcastSome("x", [ids[0] as string, "never-a-member"])).code).toBe("NOT_REGISTERED");
  });

  it("keeps a targeted event for a departed member with an explicit sessionId, replayed when it comes back", async () => {
    const app = await appServer();
    const channel = new BroadcastStream(`some-kept-${++n}`);
    const sid = `user-${process.pid}-${n}`;
    const first = await app.connect(`/?sid=${sid}`);
    channel.register(first.session);
    const seen = channel.broadcastSome("seen", [sid]);
    await first.client.waitForEvents(1);
    first.client.destroy();
    await waitFor(() => first.session.getConnectionState() === "DISCONNECTED", "the first connection to close");
    const missed = channel.broadcastSome("sent while away", [sid]);
    const again = await app.connect(`/?sid=${sid}`, { "last-event-id": seen });
    channel.register(again.session);
    await again.client.waitForEvents(1);
    expect(again.client.events).toEqual([{ id: missed, event: undefined, data: "sent while away" }]);
  });
});

describe("typed sessions in untyped channels", () => {
  it("registers a Session<{ price: Price }> in a plain BroadcastStream", async () => {
    const app = await appServer();
    const channel = new BroadcastStream(`typed-${++n}`);
    const { client, session } = await app.connect();
    const typed = session as unknown as Session<{ price: { symbol: string; value: number } }>;
    channel.register(typed);
    typed.sendMessage({ symbol: "AAPL", value: 1 }, "price");
    channel.broadcastAll("plain");
    await client.waitForEvents(2);
    expect(client.events.map((e) => e.data)).toEqual(['{"symbol":"AAPL","value":1}', "plain"]);
  });
});
