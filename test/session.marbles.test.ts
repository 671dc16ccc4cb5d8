import type { IncomingMessage, ServerResponse } from "node:http";
import { Observable, take } from "rxjs";
import { TestScheduler } from "rxjs/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { heartbeatTimers } from "../src/heartbeat.js";
import { heartbeat, Session, type SessionLifecycleEvent } from "../src/index.js";
import { connectRaw, type RawClient } from "./helpers/rawClient.js";
import { nextExchange, startServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
let client: RawClient;
let req: IncomingMessage;
let res: ServerResponse;

beforeEach(async () => {
  server = await startServer(() => {});
  const exchange = nextExchange(server.server);
  const clientPromise = connectRaw(`${server.url}/`);
  ({ req, res } = await exchange);
  // Headers are only sent by the session; the client resolves once they arrive, so it is awaited later.
  clientPromise.then(
    (c) => {
      client = c;
    },
    // Tests that never open a session leave the request unanswered; the server's close then resets it.
    () => {},
  );
});

afterEach(async () => {
  client?.destroy();
  await server.close();
});

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** Records each chunk written to `res` after this call, with the virtual time it was written at. */
function recordWrites(ts: TestScheduler): [number, string][] {
  const writes: [number, string][] = [];
  const write = res.write.bind(res) as (chunk: unknown) => boolean;
  (res as { write: unknown }).write = (chunk: Buffer | string) => {
    writes.push([ts.now(), chunk.toString()]);
    return write(chunk);
  };
  return writes;
}

describe("heartbeat (marbles)", () => {
  it("ticks every period on the injected scheduler", () => {
    const ts = scheduler();
    ts.run(({ expectObservable }) => {
      expectObservable(heartbeat(10, ts).pipe(take(3))).toBe("10ms a 9ms b 9ms (c|)", { a: 0, b: 1, c: 2 });
    });
  });

  it("shares one timer per period and scheduler, across separate heartbeat() calls", () => {
    const ts = scheduler();
    const a = heartbeat(10, ts).subscribe();
    const b = heartbeat(10, ts).subscribe();
    expect(ts.actions.length).toBe(1);
    const c = heartbeat(20, ts).subscribe();
    expect(ts.actions.length).toBe(2);
    for (const s of [a, b, c]) s.unsubscribe();
    expect(ts.actions.length).toBe(0);
    expect(heartbeatTimers()).toBe(0);
  });

  it("runs one interval for many subscribers, and stops it when the last leaves", () => {
    const ts = scheduler();
    ts.run(({ expectObservable }) => {
      const beat$ = heartbeat(10, ts);
      // Fewer than one slice (256): every subscriber hears the tick on time.
      const subs = Array.from({ length: 250 }, () => beat$.subscribe());
      // One interval means one scheduled action, however many subscribers.
      expect(ts.actions.length).toBe(1);
      ts.schedule(() => {
        for (const sub of subs) sub.unsubscribe();
      }, 25);
      ts.schedule(() => expect(ts.actions.length).toBe(0), 26);
      expectObservable(beat$.pipe(take(2))).toBe("10ms a 9ms (b|)", { a: 0, b: 1 });
    });
  });
});

describe("Session subscriptions (marbles)", () => {
  it("merges the heartbeat into the output on time, skips it when the session wrote within the last third of the period, and unsubscribes heartbeat and piped source on close", () => {
    const ts = scheduler();
    let writes: [number, string][] = [];
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold("5ms a 12ms b 19ms c", { a: "A", b: "B", c: "C" });
      const session = new Session(req, res, { scheduler: ts, heartbeatInterval: 10, flushInterval: 1 });
      writes = recordWrites(ts);
      session.pipeFrom(source);
      ts.schedule(() => session.close(), 42);
      expectSubscriptions(source.subscriptions).toBe("^ 41ms !");
      expectObservable(session.state$).toBe("a 41ms (b|)", { a: "CONNECTED", b: "DISCONNECTED" });
      expectObservable(session.closed$.pipe()).toBe("42ms (c|)", {
        c: { type: "session-closed", sessionId: session.getSessionId(), reason: "server-close" },
      });
    });
    // Writes happen at the end of each 1 ms flush window: events at 5, 18 and 38; the heartbeat ticks at 10, 20, 30
    // and 40. At 10 the last write (6) is 4 ms old, more than a third of the period: a heartbeat. At 20 and 40 the
    // session wrote 1 ms before: none. At 30 it was idle for 11 ms: a heartbeat.
    expect(writes.map(([at, text]) => [at, text.replace(/^id: \S+\n/m, "id: *\n")])).toEqual([
      [6, "id: *\ndata: A\n\n"],
      [11, ":\n"],
      [19, "id: *\ndata: B\n\n"],
      [31, ":\n"],
      [39, "id: *\ndata: C\n\n"],
    ]);
  });

  it("coalesces the frames of one flush window into a single write", () => {
    const ts = scheduler();
    let writes: [number, string][] = [];
    ts.run(({ cold }) => {
      const session = new Session(req, res, { scheduler: ts, heartbeatInterval: 1000, flushInterval: 5 });
      writes = recordWrites(ts);
      session.pipeFrom(cold("1ms a b c", { a: "1", b: "2", c: "3" }));
      // The heartbeat never completes; closing ends the virtual run.
      ts.schedule(() => session.close(), 10);
    });
    expect(writes).toHaveLength(1);
    expect(writes[0]?.[0]).toBe(6);
    expect(writes[0]?.[1].match(/data: \d/g)).toEqual(["data: 1", "data: 2", "data: 3"]);
  });

  it("on a source error: emits source-error, closes with reason source-error, and ends every subscription", () => {
    const ts = scheduler();
    const error = new Error("feed down");
    const seen: SessionLifecycleEvent["type"][] = [];
    ts.run(({ cold, expectSubscriptions }) => {
      const failing = cold("5ms a 4ms #", { a: "A" }, error);
      const healthy = cold("3ms x 9ms y", { x: "X", y: "Y" });
      const session = new Session(req, res, { scheduler: ts, heartbeatInterval: 1000 });
      session.lifecycle$.subscribe((event) => seen.push(event.type));
      session.on("source-error", (event) => expect(event.error).toBe(error));
      session.pipeFrom(healthy);
      session.pipeFrom(failing);
      expectSubscriptions(failing.subscriptions).toBe("^ 9ms !");
      expectSubscriptions(healthy.subscriptions).toBe("^ 9ms !");
    });
    expect(seen).toEqual(["message-sent", "message-sent", "source-error", "session-closed"]);
  });

  it("an unsubscribed pipe stops without closing the session", () => {
    const ts = scheduler();
    ts.run(({ cold, expectSubscriptions }) => {
      const source = cold("-a-b-c-d", { a: "1", b: "2", c: "3", d: "4" });
      const session = new Session(req, res, { scheduler: ts, heartbeatInterval: 1000 });
      const piped = session.pipeFrom(source);
      ts.schedule(() => piped.unsubscribe(), 4);
      ts.schedule(() => expect(session.getConnectionState()).toBe("CONNECTED"), 6);
      ts.schedule(() => session.close(), 10);
      expectSubscriptions(source.subscriptions).toBe("^---!");
    });
  });

  it("the inbound subject sends what is nexted into it and completes on close", () => {
    const ts = scheduler();
    const sent: string[] = [];
    ts.run(({ expectObservable }) => {
      const session = new Session(req, res, { scheduler: ts, heartbeatInterval: 1000 });
      session.on("message-sent", (event) => sent.push(`${event.event ?? ""}:${event.data}`));
      ts.schedule(() => session.inbound.next({ data: { p: 1 }, event: "price" }), 2);
      ts.schedule(() => session.inbound.next({ data: "plain" }), 3);
      ts.schedule(() => session.close(), 5);
      ts.schedule(() => session.inbound.next({ data: "ignored after close" }), 6);
      // The inbound subject is hot: the values nexted at 2 and 3 are seen, then it completes on close.
      expectObservable(session.inbound).toBe("2ms a b 1ms |", {
        a: { data: { p: 1 }, event: "price" },
        b: { data: "plain" },
      });
    });
    expect(sent).toEqual(['price:{"p":1}', ":plain"]);
  });
});

describe("Session subscriptions (real sockets)", () => {
  it("unsubscribes a piped source when the client disconnects", async () => {
    let subscribed = 0;
    let tornDown = 0;
    const source = new Observable<string>((subscriber) => {
      subscribed += 1;
      subscriber.next("hello");
      return () => {
        tornDown += 1;
      };
    });
    const session = new Session(req, res);
    session.pipeFrom(source);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await client.waitForEvents(1);
    expect([subscribed, tornDown]).toEqual([1, 0]);
    const closed = new Promise((resolve) => session.once("session-closed", resolve));
    client.destroy();
    await closed;
    expect(tornDown).toBe(1);
  });
});
