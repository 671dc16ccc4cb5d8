import { afterEach, describe, expect, it } from "vitest";
import {
  BroadcastStream,
  type BroadcastSuccessEvent,
  type ChannelEvent,
  type EventFlareError,
  type Session,
  type SessionDeregisteredEvent,
} from "../src/index.js";
import { errorOf } from "./helpers/errors.js";
import { waitFor } from "./helpers/server.js";
import { sessionServer } from "./helpers/sessions.js";

let app: Awaited<ReturnType<typeof sessionServer>> | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

let channelCounter = 0;
const newChannel = (options?: ConstructorParameters<typeof BroadcastStream>[1]) =>
  new BroadcastStream(`test-channel-${++channelCounter}`, options);

describe("BroadcastStream: seed parity", () => {
  it("registers sessions, broadcasts to all with one id, and counts active connections", async () => {
    app = await sessionServer();
    const channel = newChannel();
    const registered: string[] = [];
    channel.on("session-registered", (e) => registered.push(e.sessionId));
    const a = await app.connect();
    const b = await app.connect();
    channel.register(a.session);
    channel.register(b.session);
    expect(channel.getActiveConnections()).toBe(2);
    expect(registered).toEqual([a.session.getSessionId(), b.session.getSessionId()]);

    const successes: BroadcastSuccessEvent[] = [];
    channel.on("broadcast-success", (e) => successes.push(e));
    const id = channel.broadcastAll(JSON.stringify({ stockName: "AAPL", currentStockPrice: "245.65" }));
    await a.client.waitForEvents(1);
    await b.client.waitForEvents(1);
    const frame = `id: ${id}\ndata: {"stockName":"AAPL","currentStockPrice":"245.65"}\n\n`;
    expect(a.client.text()).toBe(`retry: 1000\n\n${frame}`);
    expect(b.client.text()).toBe(`retry: 1000\n\n${frame}`);
    expect(successes).toMatchObject([{ type: "broadcast-success", id, recipients: 2, targets: undefined }]);
  });

  it("broadcastSome sends only to the chosen sessions: a list, ids, or a predicate", async () => {
    app = await sessionServer();
    const channel = newChannel();
    const [one, two, three] = [await app.connect(), await app.connect(), await app.connect()];
    for (const c of [one, two, three]) channel.register(c.session);
    channel.broadcastSome("to one and two", [one.session, two.session]);
    channel.broadcastSome("to three by id", [three.session.getSessionId()], "direct");
    channel.broadcastSome("predicate", (s) => s === two.session);
    await one.client.waitForEvents(1);
    await two.client.waitForEvents(2);
    await three.client.waitForEvents(1);
    expect(one.client.events.map((e) => e.data)).toEqual(["to one and two"]);
    expect(two.client.events.map((e) => e.data)).toEqual(["to one and two", "predicate"]);
    expect(three.client.events.map((e) => [e.event, e.data])).toEqual([["direct", "to three by id"]]);
  });

  it("deregister(sessionId) returns true for a member and false for an unknown id; the session stays open", async () => {
    app = await sessionServer();
    const channel = newChannel();
    const a = await app.connect();
    const left: SessionDeregisteredEvent[] = [];
    channel.on("session-deregistered", (e) => left.push(e));
    channel.register(a.session);
    expect(channel.deregister(a.session.getSessionId())).toBe(true);
    expect(channel.deregister(a.session.getSessionId())).toBe(false);
    expect(channel.deregister("no-such-session")).toBe(false);
    expect(channel.getActiveConnections()).toBe(0);
    expect(left).toEqual([
      {
        type: "session-deregistered",
        channelId: channel.channelId,
        sessionId: a.session.getSessionId(),
        reason: "deregister",
      },
    ]);
    channel.broadcastAll("not for a");
    a.session.sendMessage("direct");
    await a.client.waitForEvents(1);
    expect(a.client.events.map((e) => e.data)).toEqual(["direct"]);
    expect(a.session.getConnectionState()).toBe("CONNECTED");
  });

  it("deregisters a session that closes, emitting session-closed and session-deregistered", async () => {
    app = await sessionServer();
    const channel = newChannel();
    const a = await app.connect();
    const b = await app.connect();
    channel.register(a.session);
    channel.register(b.session);
    const events: string[] = [];
    channel.on("session-closed", (e) => events.push(`closed:${e.sessionId === a.session.getSessionId()}:${e.reason}`));
    channel.on("session-deregistered", (e) => events.push(`deregistered:${e.reason}`));
    a.client.destroy();
    await waitFor(() => channel.getActiveConnections() === 1, "a to leave");
    expect(events).toEqual(["closed:true:client-disconnect", "deregistered:session-closed"]);
    expect(channel.has(a.session.getSessionId())).toBe(false);
    b.session.close();
    expect(channel.getActiveConnections()).toBe(0);
  });

  it("membership is a Subscription: unsubscribing it is leaving", async () => {
    app = await sessionServer();
    const channel = newChannel();
    const a = await app.connect();
    const membership = channel.register(a.session);
    expect(membership.closed).toBe(false);
    membership.unsubscribe();
    expect(channel.getActiveConnections()).toBe(0);
    expect(channel.deregister(a.session.getSessionId())).toBe(false);
    a.session.close();
    expect(membership.closed).toBe(true);
  });
});

describe("BroadcastStream: bad input", () => {
  it("rejects registering a closed session, or the same session twice", async () => {
    app = await sessionServer();
    const channel = newChannel();
    const a = await app.connect();
    channel.register(a.session);
    expect(errorOf(() => channel.register(a.session)).code).toBe("ALREADY_REGISTERED");
    const b = await app.connect();
    b.session.close();
    expect(errorOf(() => channel.register(b.session)).code).toBe("SESSION_CLOSED");
    expect(errorOf(() => channel.register({} as Session)).code).toBe("INVALID_ARGUMENT");
    expect(channel.getActiveConnections()).toBe(1);
  });

  it("replaces a member when another session with the same id registers, and closes the replaced one after telling its client", async () => {
    app = await sessionServer();
    const channel = newChannel();
    const first = await app.connect("/?sid=same-user");
    const second = await app.connect("/?sid=same-user");
    const reasons: string[] = [];
    const closed: string[] = [];
    channel.on("session-deregistered", (e) => reasons.push(e.reason));
    first.session.on("session-closed", (e) => closed.push(e.reason));
    const counts: number[] = [];
    channel.activeConnections$.subscribe((n) => counts.push(n));
    channel.register(first.session);
    channel.register(second.session);
    expect(reasons).toEqual(["replaced"]);
    expect(channel.getActiveConnections()).toBe(1);
    // A replacement is not a change in count: 0 → 1, never 1 → 0 → 1.
    expect(counts).toEqual([0, 1]);
    // The replaced session does not stay silently open: its client hears why, then the stream ends.
    expect(closed).toEqual(["replaced"]);
    expect(first.session.getConnectionState()).toBe("DISCONNECTED");
    await first.client.waitForEnd();
    expect(first.client.text()).toBe('retry: 1000\n\nevent: session-replaced\ndata: {"reason":"replaced"}\n\n');
    channel.broadcastAll("only the newest");
    await second.client.waitForEvents(1);
    expect(second.client.events.map((e) => e.data)).toEqual(["only the newest"]);
  });

  it("broadcastSome: empty list sends nothing; closed sessions are skipped; non-members and bad selectors throw before sending", async () => {
    app = await sessionServer();
    const channel = newChannel();
    const other = newChannel();
    const a = await app.connect();
    const b = await app.connect();
    const outsider = await app.connect();
    channel.register(a.session);
    channel.register(b.session);
    other.register(outsider.session);
    const sent: BroadcastSuccessEvent[] = [];
    channel.on("broadcast-success", (e) => sent.push(e));

    channel.broadcastSome("nobody", []);
    expect(sent.at(-1)?.recipients).toBe(0);

    expect(errorOf(() => channel.broadcastSome("x", [a.session, outsider.session])).code).toBe("NOT_REGISTERED");
    expect(errorOf(() => channel.broadcastSome("x", ["unknown-id"])).code).toBe("NOT_REGISTERED");
    const failing = errorOf(() =>
      channel.broadcastSome("x", () => {
        throw new Error("boom");
      }),
    );
    expect(failing.code).toBe("PREDICATE_FAILED");
    expect((failing.cause as Error).message).toBe("boom");
    expect(errorOf(() => channel.broadcastSome("x", 42 as never)).code).toBe("INVALID_ARGUMENT");
    expect(errorOf(() => channel.broadcastSome("x", [42 as never])).code).toBe("INVALID_ARGUMENT");
    expect(sent).toHaveLength(1);

    b.client.destroy();
    await waitFor(() => b.session.getConnectionState() === "DISCONNECTED", "b to close");
    channel.broadcastSome("to a; b is closed", [a.session, b.session]);
    expect(sent.at(-1)?.recipients).toBe(1);
    await a.client.waitForEvents(1);
    expect(a.client.events.map((e) => e.data)).toEqual(["to a; b is closed"]);
    expect(outsider.client.events).toEqual([]);
  });

  it("allows broadcasting from inside lifecycle handlers without corrupting any stream", async () => {
    app = await sessionServer();
    const channel = newChannel();
    channel.on("session-registered", (e) => channel.broadcastAll(`welcome ${e.sessionId}`, "welcome"));
    channel.on("session-deregistered", (e) => channel.broadcastAll(`bye ${e.sessionId}`, "bye"));
    let echoed = false;
    channel.on("broadcast-success", () => {
      if (!echoed) {
        echoed = true;
        channel.broadcastAll("echo");
      }
    });
    const a = await app.connect();
    const b = await app.connect();
    channel.register(a.session);
    channel.register(b.session);
    channel.deregister(b.session.getSessionId());
    await a.client.waitForEvents(4);
    expect(a.client.events.map((e) => e.data)).toEqual([
      `welcome ${a.session.getSessionId()}`,
      "echo",
      `welcome ${b.session.getSessionId()}`,
      `bye ${b.session.getSessionId()}`,
    ]);
    expect(b.client.events.map((e) => e.data)).toEqual([`welcome ${b.session.getSessionId()}`]);
    expect(a.client.text().endsWith("\n\n")).toBe(true);
  });

  it("rejects bad channel ids, options and event names", () => {
    expect(errorOf(() => new BroadcastStream("")).code).toBe("INVALID_ARGUMENT");
    expect(errorOf(() => new BroadcastStream(42 as never)).code).toBe("INVALID_ARGUMENT");
    expect(errorOf(() => newChannel({ historySize: 0 })).code).toBe("INVALID_OPTION");
    const channel = newChannel();
    expect(errorOf(() => channel.broadcastAll("x", "bad\nname")).code).toBe("INVALID_FIELD");
    expect(errorOf(() => channel.broadcastAll(undefined)).code).toBe("INVALID_MESSAGE");
  });

  it("close() ends every membership, keeps sessions open, and rejects later broadcasts", async () => {
    app = await sessionServer();
    const channel = newChannel();
    const a = await app.connect();
    channel.register(a.session);
    let completed = false;
    channel.subscribe({ complete: () => (completed = true) });
    channel.close();
    expect(channel.getActiveConnections()).toBe(0);
    expect(a.session.getConnectionState()).toBe("CONNECTED");
    expect(completed).toBe(true);
    expect(errorOf(() => channel.broadcastAll("x")).code).toBe("CHANNEL_CLOSED");
    expect(errorOf(() => channel.register(a.session)).code).toBe("CHANNEL_CLOSED");
    expect(channel.deregister("anything")).toBe(false);
  });
});

describe("BroadcastStream: reactive", () => {
  it("is an observable of its events that can be subscribed and piped", async () => {
    const { filter, from, map, isObservable } = await import("rxjs");
    app = await sessionServer();
    const channel = newChannel();
    const a = await app.connect();
    channel.register(a.session);
    const seen: ChannelEvent[] = [];
    const audited: string[] = [];
    channel.subscribe((e) => seen.push(e));
    channel
      .pipe(
        filter((e) => e.event === "trade"),
        map((e) => e.data),
      )
      .subscribe((d) => audited.push(d));
    const viaFrom: string[] = [];
    from(channel).subscribe((e) => viaFrom.push(e.id));
    expect(isObservable(channel)).toBe(true);
    const id1 = channel.broadcastAll("quote");
    const id2 = channel.broadcastAll({ qty: 5 }, "trade");
    channel.broadcastSome("private", [a.session]);
    expect(seen.map((e) => [e.id, e.event, e.data])).toEqual([
      [id1, undefined, "quote"],
      [id2, "trade", '{"qty":5}'],
      [seen[2]?.id, undefined, "private"],
    ]);
    expect(seen[2]?.targets).toEqual([a.session.getSessionId()]);
    expect(audited).toEqual(['{"qty":5}']);
    expect(viaFrom).toHaveLength(3);
  });

  it("broadcastFrom pipes an observable in; a failing source emits source-error and leaves the channel open", async () => {
    const { Subject } = await import("rxjs");
    app = await sessionServer();
    const channel = newChannel();
    const a = await app.connect();
    channel.register(a.session);
    const feed = new Subject<unknown>();
    const errors: unknown[] = [];
    channel.on("source-error", (e) => errors.push(e.error));
    const piped = channel.broadcastFrom(feed, "tick");
    feed.next(1);
    feed.next(undefined); // has no JSON form: the source is ended
    feed.next(3);
    expect(piped.closed).toBe(true);
    expect(feed.observed).toBe(false);
    expect(errors).toHaveLength(1);
    expect((errors[0] as EventFlareError).code).toBe("INVALID_MESSAGE");
    channel.broadcastAll("still open");
    await a.client.waitForEvents(2);
    expect(a.client.events.map((e) => e.data)).toEqual(["1", "still open"]);
  });
});
