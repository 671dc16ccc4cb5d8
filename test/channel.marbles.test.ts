import type { IncomingMessage, ServerResponse } from "node:http";
import { map } from "rxjs";
import { marbles } from "rxjs-marbles";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BroadcastStream, Session } from "../src/index.js";
import { connectRaw, type RawClient } from "./helpers/rawClient.js";
import { nextExchange, startServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
const clients: RawClient[] = [];
let pairs: { req: IncomingMessage; res: ServerResponse }[] = [];

beforeEach(async () => {
  server = await startServer(() => {});
  pairs = [];
  for (let i = 0; i < 3; i++) {
    const exchange = nextExchange(server.server);
    const client = connectRaw(`${server.url}/`);
    pairs.push(await exchange);
    client.then(
      (c) => clients.push(c),
      () => {},
    );
  }
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await server.close();
});

/** Records the data of every event each session writes, with the virtual time of the write. */
function recordData(res: ServerResponse, now: () => number): string[] {
  const seen: string[] = [];
  const write = res.write.bind(res) as (chunk: unknown) => boolean;
  (res as { write: unknown }).write = (chunk: Buffer | string) => {
    for (const match of chunk.toString().matchAll(/^data: (.*)$/gm)) seen.push(`${now()}:${match[1]}`);
    return write(chunk);
  };
  return seen;
}

let n = 0;

describe("BroadcastStream (marbles)", () => {
  it(
    "tracks registration and deregistration, and each member receives only while registered",
    marbles((m) => {
      const channel = new BroadcastStream(`marble-${++n}`);
      const options = { scheduler: m.scheduler, heartbeatInterval: 1000, flushInterval: 1 };
      const [p0, p1] = pairs as [(typeof pairs)[0], (typeof pairs)[0]];
      const a = new Session(p0.req, p0.res, options);
      const b = new Session(p1.req, p1.res, options);
      const seenA = recordData(p0.res, () => m.scheduler.now());
      const seenB = recordData(p1.res, () => m.scheduler.now());
      const source = m.cold("-1-2-3-4-5-6-|");
      m.scheduler.schedule(() => channel.register(a), 0);
      m.scheduler.schedule(() => channel.register(b), 2);
      m.scheduler.schedule(() => channel.deregister(a.getSessionId()), 6);
      m.scheduler.schedule(() => b.close(), 10);
      m.scheduler.schedule(() => a.close(), 20);
      channel.broadcastFrom(source);
      m.expect(channel.activeConnections$).toBeObservable("a-b---c---d", { a: 1, b: 2, c: 1, d: 0 });
      m.expect(source).toHaveSubscriptions("^------------!");
      // The channel itself is the observable of what it broadcasts, whoever is registered.
      m.expect(channel.pipe(map((event) => event.data))).toBeObservable("-1-2-3-4-5-6-");
      m.scheduler.schedule(() => {
        // Writes land at the end of each 1-frame flush window; b's close at 10 flushes what it had queued.
        expect(seenA).toEqual(["2:1", "4:2", "6:3"]);
        expect(seenB).toEqual(["4:2", "6:3", "8:4", "10:5"]);
      }, 30);
    }),
  );

  it(
    "filters with broadcastSome predicates and unsubscribes sources on close",
    marbles((m) => {
      const channel = new BroadcastStream(`marble-${++n}`);
      const options = { scheduler: m.scheduler, heartbeatInterval: 1000, flushInterval: 1 };
      const sessions = pairs.map(({ req, res }, i) => new Session(req, res, { ...options, sessionId: `plan-${i}` }));
      const seen = pairs.map(({ res }) => recordData(res, () => m.scheduler.now()));
      for (const session of sessions) channel.register(session);
      const paid = (session: Session) => session.getSessionId() !== "plan-0";
      const source = m.hot("--x--y--z-", { x: "X", y: "Y", z: "Z" });
      source.subscribe((value) => channel.broadcastSome(value, paid));
      const feed = m.cold("-f-f-f-f-f-f-f-f-f-f");
      channel.broadcastFrom(feed, "free");
      m.scheduler.schedule(() => channel.close(), 10);
      m.scheduler.schedule(() => {
        for (const session of sessions) session.close();
      }, 12);
      m.expect(feed).toHaveSubscriptions("^---------!");
      // Closing the channel is one change of count: 3 members to none.
      m.expect(channel.activeConnections$).toBeObservable("a---------(b|)", { a: 3, b: 0 });
      m.scheduler.schedule(() => {
        // plan-0 gets only the free feed; the others get the paid broadcasts too, in order.
        expect(seen[0]).toEqual(["2:f", "4:f", "6:f", "8:f", "10:f"]);
        // Same-frame events share one flush window, so they arrive in one write.
        expect(seen[1]).toEqual(["2:f", "2:X", "4:f", "6:f", "6:Y", "8:f", "8:Z", "10:f"]);
        expect(seen[2]).toEqual(seen[1]);
      }, 20);
    }),
  );
});
