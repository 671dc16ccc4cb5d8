import type { IncomingMessage, ServerResponse } from "node:http";
import { EventSource } from "eventsource";
import { filter, firstValueFrom, type Observable, type Subscription, take, toArray } from "rxjs";
import { afterEach, describe, expect, it } from "vitest";
import { type ClientNotification, fromEventSource } from "../src/client/index.js";
import { BroadcastStream, type EventFlareError, Session } from "../src/index.js";
import { sleep, startServer, type TestServer, waitFor } from "./helpers/server.js";

// fromEventSource in Node, with the real `eventsource` package, against real sessions on real sockets.
type Ticker = { price: { symbol: string; value: number }; halt: { symbol: string }; note: string };

/** The real `eventsource` EventSource, remembering its instances so a test can see that none is left reconnecting. */
class TrackedEventSource extends EventSource {
  static readonly instances: TrackedEventSource[] = [];
  constructor(url: string | URL, init?: { withCredentials?: boolean }) {
    super(url, init);
    TrackedEventSource.instances.push(this);
  }
}

let server: TestServer | undefined;
const subscriptions: Subscription[] = [];
const channels: BroadcastStream<Ticker>[] = [];

afterEach(async () => {
  for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
  for (const channel of channels.splice(0)) channel.close();
  for (const source of TrackedEventSource.instances.splice(0)) source.close();
  await server?.close();
  server = undefined;
});

/** A server on which `/ticker` opens a session (sessionId from `?sid=`) in one typed channel; `requests` counts hits. */
async function tickerServer(handle?: (req: IncomingMessage, res: ServerResponse) => boolean) {
  const channel = new BroadcastStream<Ticker>("prices", { historySize: 1000 });
  channels.push(channel);
  const streams: IncomingMessage[] = [];
  const sessions: Session<Ticker>[] = [];
  const requests: string[] = [];
  server = await startServer((req, res) => {
    requests.push(req.url ?? "");
    if (handle?.(req, res)) return;
    const sid = new URL(req.url ?? "/", "http://x").searchParams.get("sid");
    const session = new Session<Ticker>(req, res, { retryInterval: 10, sessionId: sid });
    streams.push(req);
    sessions.push(session);
    channel.register(session);
  });
  return { channel, streams, sessions, requests, url: `${server.url}/ticker` };
}

function subscribeAll<T>(source$: Observable<T>): { seen: T[]; error: Promise<EventFlareError> } {
  const seen: T[] = [];
  let fail: (error: EventFlareError) => void = () => {};
  const error = new Promise<EventFlareError>((resolve) => {
    fail = resolve;
  });
  subscriptions.push(source$.subscribe({ next: (value) => seen.push(value), error: (e) => fail(e) }));
  return { seen, error };
}

const ticker = (url: string) =>
  fromEventSource<Ticker>(url, { events: ["price", "halt", "note"], raw: ["note"], EventSource: TrackedEventSource });
const messages = (notes: ClientNotification<Ticker>[]) => notes.filter((n) => n.type === "message");

describe("fromEventSource with the eventsource package, against real sessions", () => {
  it("replays across forced drops: every channel event once, in order, and the observable goes on", async () => {
    const app = await tickerServer();
    const { seen } = subscribeAll(ticker(app.url));
    await waitFor(() => app.channel.getActiveConnections() === 1, "the client to connect");
    const TOTAL = 150;
    const ids: string[] = [];
    for (let i = 0; i < TOTAL; i++) {
      ids.push(app.channel.broadcastAll({ symbol: "AAPL", value: i }, "price"));
      // Every 50 events the server destroys the socket while events may still be in flight.
      if (i % 50 === 49) app.streams.at(-1)?.socket.destroy();
      if (i % 10 === 0) await sleep(1);
    }
    await waitFor(() => messages(seen).length >= TOTAL, "every event", 15_000);
    const received = messages(seen);
    expect(received.map((m) => m.id)).toEqual(ids);
    expect(received.map((m) => (m.event === "price" ? m.data.value : -1))).toEqual(ids.map((_, i) => i));
    const states = seen.filter((n) => n.type === "connection").map((n) => n.state);
    expect(states.filter((s) => s === "reconnecting").length).toBeGreaterThanOrEqual(1);
    expect(states.at(-1)).toBe("open");
    expect(app.requests.length).toBeGreaterThan(1); // it reconnected, and kept the same observable
  });

  it("resumes a session's own history after a drop (same sessionId, Last-Event-ID)", async () => {
    const app = await tickerServer();
    const { seen } = subscribeAll(ticker(`${app.url}?sid=client-session-1`));
    await waitFor(() => app.sessions.length === 1, "the client to connect");
    const first = app.sessions[0] as Session<Ticker>;
    const ids = [first.sendMessage({ symbol: "A" }, "halt"), first.sendMessage({ symbol: "B" }, "halt")];
    await waitFor(() => messages(seen).length === 2, "two events");
    app.streams[0]?.socket.destroy();
    await waitFor(() => first.getConnectionState() === "DISCONNECTED", "the session to close");
    // Sent to the session id while no connection holds it: kept in its history, replayed on reconnect.
    ids.push(app.channel.broadcastSome({ symbol: "C" }, ["client-session-1"], "halt"));
    await waitFor(() => messages(seen).length === 3, "the replayed event", 10_000);
    expect(messages(seen).map((m) => m.id)).toEqual(ids);
  });

  it("gives invalid-data for a non-JSON event, names its id, ignores unlisted names, and goes on", async () => {
    const app = await tickerServer();
    const untyped = fromEventSource(app.url, { events: ["price", "note"], EventSource: TrackedEventSource });
    const { seen } = subscribeAll(untyped);
    await waitFor(() => app.sessions.length === 1, "the client to connect");
    const session = app.sessions[0] as unknown as Session; // an untyped session may send anything
    const badId = session.sendMessage("plain text, not JSON", "note");
    session.sendMessage({ volume: 1 }, "volume"); // not listed: ignored
    const goodId = session.sendMessage({ symbol: "X", value: 1 }, "price");
    await waitFor(() => seen.filter((n) => n.type !== "connection").length >= 2, "two notices");
    await sleep(20);
    const notices = seen.filter((n) => n.type !== "connection");
    expect(notices).toHaveLength(2);
    expect(notices[0]).toMatchObject({ type: "invalid-data", event: "note", id: badId, data: "plain text, not JSON" });
    expect(notices[0]?.type === "invalid-data" && notices[0].error.code).toBe("CLIENT_INVALID_DATA");
    expect(notices[1]).toEqual({ type: "message", event: "price", data: { symbol: "X", value: 1 }, id: goodId });
  });

  it("delivers the server's history-gap as a typed notice", async () => {
    const app = await tickerServer();
    const gap = firstValueFrom(
      ticker(`${app.url}?sid=gap-1&lastEventId=not-an-id`).pipe(filter((n) => n.type === "history-gap")),
    );
    expect(await gap).toEqual({ type: "history-gap", source: "session", reason: "malformed", lastEventId: "" });
  });

  it("stops with CLIENT_STOPPED when a newer connection with the same session id replaces it", async () => {
    const app = await tickerServer();
    const first = subscribeAll(ticker(`${app.url}?sid=twin`));
    await waitFor(() => app.sessions.length === 1, "the first connection");
    subscribeAll(ticker(`${app.url}?sid=twin`));
    expect((await first.error).code).toBe("CLIENT_STOPPED");
    expect(TrackedEventSource.instances[0]?.readyState).toBe(EventSource.CLOSED);
  });

  it("shares one connection between subscribers with share(), and closes it with the last one", async () => {
    const { share } = await import("rxjs");
    const app = await tickerServer();
    const shared$ = ticker(app.url).pipe(share());
    const a = subscribeAll(shared$);
    const b = subscribeAll(shared$);
    await waitFor(() => app.channel.getActiveConnections() === 1, "one connection");
    const id = app.channel.broadcastAll({ symbol: "S" }, "halt");
    await waitFor(() => messages(a.seen).length === 1 && messages(b.seen).length === 1, "both subscribers");
    expect(app.requests).toHaveLength(1);
    expect(messages(b.seen)[0]?.id).toBe(id);
    for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
    await waitFor(() => app.channel.getActiveConnections() === 0, "the connection to close");
    expect(TrackedEventSource.instances.map((s) => s.readyState)).toEqual([EventSource.CLOSED]);
  });
});

describe("fromEventSource errors: typed, and no reconnect loop", () => {
  const answers: Record<string, (res: ServerResponse) => void> = {
    "/status": (res) => res.writeHead(401, { "Content-Type": "text/plain" }).end("log in first"),
    "/html": (res) => res.writeHead(200, { "Content-Type": "text/html" }).end("<p>not a stream</p>"),
    "/stop": (res) => res.writeHead(204).end(),
  };

  it.each([
    ["/status", "CLIENT_HTTP_STATUS", /401/],
    ["/html", "CLIENT_CONTENT_TYPE", /not an event stream/],
    ["/stop", "CLIENT_STOPPED", /204/],
  ])("%s errors with %s and the EventSource is closed", async (path, code, message) => {
    const app = await tickerServer((req, res) => {
      const answer = answers[req.url ?? ""];
      answer?.(res);
      return answer !== undefined;
    });
    const error = await firstValueFrom(ticker(`${server?.url}${path}`).pipe(toArray())).catch((e) => e);
    expect(error).toMatchObject({ name: "EventFlareError", code });
    expect(error.message).toMatch(message);
    // No reconnect follows: the EventSource is closed, and no second request arrives.
    expect(TrackedEventSource.instances.map((s) => s.readyState)).toEqual([EventSource.CLOSED]);
    await sleep(50);
    expect(app.requests).toEqual([path]);
  });

  it("errors with CLIENT_UNREACHABLE for a URL nothing listens on, without retrying", async () => {
    const closed = await startServer(() => {});
    const url = `${closed.url}/gone`;
    await closed.close();
    const error = await firstValueFrom(ticker(url)).catch((e) => e);
    expect(error).toMatchObject({ name: "EventFlareError", code: "CLIENT_UNREACHABLE" });
    expect(TrackedEventSource.instances.map((s) => s.readyState)).toEqual([EventSource.CLOSED]);
  });

  it("errors with CLIENT_INVALID_URL for a URL the EventSource rejects", async () => {
    const error = await firstValueFrom(ticker("not a url").pipe(take(1))).catch((e) => e);
    expect(error).toMatchObject({ name: "EventFlareError", code: "CLIENT_INVALID_URL", field: "url" });
  });
});
