import { createClient } from "redis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type BackplaneNode, startNode } from "../helpers/backplaneNode.js";
import { errorOf } from "../helpers/errors.js";
import { type RedisServer, redisAvailable, startRedis } from "../helpers/redis.js";
import { sleep, waitFor } from "../helpers/server.js";

const enabled = redisAvailable();
let redis: RedisServer;
const nodes: BackplaneNode[] = [];

beforeAll(async () => {
  if (enabled) redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  for (const node of nodes.splice(0)) await node.close();
});

let n = 0;
const unique = (name: string) => `${name}-${++n}`;
async function twoNodes(options: Record<string, unknown> = {}) {
  const a = await startNode(redis.url, unique("A"), options);
  const b = await startNode(redis.url, unique("B"), options);
  nodes.push(a, b);
  return [a, b] as const;
}

describe.skipIf(!enabled)("Redis backplane: cluster broadcast", () => {
  it("broadcastAll on one node reaches the members on every node once, with the same stream ids", async () => {
    const [a, b] = await twoNodes();
    const ch = unique("news");
    const onA = await a.connect(`/?ch=${ch}`);
    const onB = await b.connect(`/?ch=${ch}`);
    await waitFor(
      () => a.channel(ch).getActiveConnections() === 1 && b.channel(ch).getActiveConnections() === 1,
      "members",
    );
    await sleep(50);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await (i % 2 === 0 ? a : b).channel(ch).broadcastAll(`m${i}`));
    await onA.waitForEvents(20);
    await onB.waitForEvents(20);
    expect(onA.events.map((e) => e.id)).toEqual(ids);
    expect(onB.events.map((e) => e.id)).toEqual(ids);
    expect(onB.events.map((e) => e.data)).toEqual(ids.map((_, i) => `m${i}`));
    await sleep(50);
    expect(onA.events).toHaveLength(20);
  });

  it("broadcastSome reaches sessions by id on whichever node holds them, and keeps it in their histories", async () => {
    const [a, b] = await twoNodes();
    const ch = unique("some");
    const sid = unique("user");
    const target = await b.connect(`/?sid=${sid}&ch=${ch}`);
    const other = await b.connect(`/?ch=${ch}`);
    await sleep(50);
    const id = await a.channel(ch).broadcastSome("just for you", [sid], "direct");
    await target.waitForEvents(1);
    expect(target.events).toEqual([{ id, event: "direct", data: "just for you" }]);
    await sleep(50);
    expect(other.events).toEqual([]);
  });

  it("sendTo delivers to the node holding the session, and a session away gets it on reconnect", async () => {
    const [a, b] = await twoNodes();
    const sid = unique("user");
    const first = await b.connect(`/?sid=${sid}`);
    await sleep(50);
    const live = await a.backplane.sendTo(sid, { hello: 1 }, "note");
    await first.waitForEvents(1);
    expect(first.events[0]).toEqual({ id: live, event: "note", data: '{"hello":1}' });
    first.destroy();
    await waitFor(() => b.sessions[0]?.getConnectionState() === "DISCONNECTED", "the session to close");
    const away = await a.backplane.sendTo(sid, "while you were away");
    const back = await a.connect(`/?sid=${sid}`, { "last-event-id": live });
    await back.waitForEvents(1);
    expect(back.events).toEqual([{ id: away, event: undefined, data: "while you were away" }]);
  });

  it("sendTo for a sessionId no node holds keeps the event for its first connection", async () => {
    const [a] = await twoNodes();
    const sid = unique("nobody-yet");
    const before = await a.backplane.sendTo(sid, "warm-up");
    const kept = await a.backplane.sendTo(sid, "kept for you");
    const client = await a.connect(`/?sid=${sid}`, { "last-event-id": before });
    await client.waitForEvents(1);
    expect(client.events).toEqual([{ id: kept, event: undefined, data: "kept for you" }]);
  });

  it("countAll() counts members on every node; getActiveConnections() stays local", async () => {
    const [a, b] = await twoNodes();
    const ch = unique("presence");
    await a.connect(`/?ch=${ch}`);
    await b.connect(`/?ch=${ch}`);
    await b.connect(`/?ch=${ch}`);
    await waitFor(() => b.channel(ch).getActiveConnections() === 2, "members");
    await sleep(50);
    expect(a.channel(ch).getActiveConnections()).toBe(1);
    expect(await a.channel(ch).countAll()).toBe(3);
    expect(await b.channel(ch).countAll()).toBe(3);
  });

  it("1,000 channels on a node use the same Redis connections as one, and each delivers across nodes", async () => {
    const admin = createClient({ url: redis.url });
    await admin.connect();
    try {
      const connections = async () =>
        String(await admin.sendCommand(["CLIENT", "LIST"]))
          .trim()
          .split("\n").length;
      const [a, b] = await twoNodes();
      const names = Array.from({ length: 1000 }, () => unique("many"));
      const seen = new Map<string, string[]>();
      const first = names[0] as string;
      a.channel(first);
      b.channel(first).subscribe(() => {});
      await sleep(100); // both nodes follow their first channel
      const withOne = await connections();

      for (const name of names) b.channel(name).subscribe((e) => seen.set(name, [...(seen.get(name) ?? []), e.data]));
      await sleep(200);
      await Promise.all(names.map((name, i) => a.channel(name).broadcastAll(`m${i}`)));
      await waitFor(() => seen.size === names.length, "every channel's event on node B", 10_000);
      await sleep(100); // a duplicate would show by now

      expect(await connections()).toBe(withOne);
      expect(names.map((name) => seen.get(name))).toEqual(names.map((_, i) => [`m${i}`]));
    } finally {
      await admin.close();
    }
  }, 30_000);
});

describe.skipIf(!enabled)("Redis backplane: the channel's reactive side", () => {
  it("broadcastFrom publishes every value cluster-wide, and the channel observable reports each event on every node", async () => {
    const [a, b] = await twoNodes();
    const ch = unique("reactive");
    const onB = await b.connect(`/?ch=${ch}`);
    await sleep(50);
    const seenOnA: string[] = [];
    const seenOnB: string[] = [];
    a.channel(ch).subscribe((e) => seenOnA.push(e.data));
    b.channel(ch).subscribe((e) => seenOnB.push(e.data));
    await sleep(100); // node A follows the channel from its first use on
    const { of } = await import("rxjs");
    a.channel(ch).broadcastFrom(of("r1", "r2", "r3"), "tick");
    await onB.waitForEvents(3);
    expect(onB.events.map((e) => [e.event, e.data])).toEqual([
      ["tick", "r1"],
      ["tick", "r2"],
      ["tick", "r3"],
    ]);
    await waitFor(() => seenOnA.length === 3 && seenOnB.length === 3, "both observables");
    expect(seenOnA).toEqual(["r1", "r2", "r3"]);
    expect(seenOnB).toEqual(["r1", "r2", "r3"]);
  });

  it("a node that stops beating drops out of countAll() within its nodeTtl", async () => {
    const [a, b] = await twoNodes();
    const ch = unique("dead-node");
    await a.connect(`/?ch=${ch}`);
    await b.connect(`/?ch=${ch}`);
    await waitFor(
      () => a.channel(ch).getActiveConnections() === 1 && b.channel(ch).getActiveConnections() === 1,
      "members",
    );
    await sleep(100);
    expect(await a.channel(ch).countAll()).toBe(2);
    // Node B dies without a word: its connections drop, its heartbeat stops (nodeTtl is 1 s in these nodes).
    const connections = (
      b.backplane as unknown as { connections: { commands: { destroy(): void }; subscriber: { destroy(): void } } }
    ).connections;
    connections.commands.destroy();
    connections.subscriber.destroy();
    let count = 2;
    for (const deadline = Date.now() + 5_000; count !== 1 && Date.now() < deadline; await sleep(100)) {
      count = await a.channel(ch).countAll();
    }
    expect(count).toBe(1);
  });
});

describe.skipIf(!enabled)("Redis backplane: replay across nodes", () => {
  it("a client that was on node A resumes on node B with its Last-Event-ID: no gap, no duplicate", async () => {
    const [a, b] = await twoNodes();
    const ch = unique("replay");
    const sid = unique("user");
    const onA = await a.connect(`/?sid=${sid}&ch=${ch}`);
    await sleep(50);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await a.channel(ch).broadcastAll(`e${i}`));
    await onA.waitForEvents(5);
    onA.destroy();
    for (let i = 5; i < 10; i++) ids.push(await a.channel(ch).broadcastAll(`e${i}`));
    const onB = await b.connect(`/?sid=${sid}&ch=${ch}`, { "last-event-id": ids[4] as string });
    for (let i = 10; i < 15; i++) ids.push(await b.channel(ch).broadcastAll(`e${i}`));
    await onB.waitForEvents(10);
    expect(onB.events.map((e) => e.id)).toEqual(ids.slice(5));
  });

  it("one Last-Event-ID resumes a session in two channels and its own history, losing nothing on either", async () => {
    const [a, b] = await twoNodes();
    const [x, y] = [unique("x"), unique("y")];
    const sid = unique("user");
    const onA = await a.connect(`/?sid=${sid}&ch=${x},${y}`);
    await sleep(50);
    const seen = await a.channel(x).broadcastAll("x0");
    await onA.waitForEvents(1);
    onA.destroy();
    await waitFor(() => a.sessions[0]?.getConnectionState() === "DISCONNECTED", "close");
    const missed = [
      await a.channel(y).broadcastAll("y1"),
      await b.backplane.sendTo(sid, "direct2"),
      await a.channel(x).broadcastAll("x3"),
      await b.channel(y).broadcastAll("y4"),
    ];
    const onB = await b.connect(`/?sid=${sid}&ch=${x},${y}`, { "last-event-id": seen });
    await onB.waitForEvents(4);
    expect(onB.events.map((e) => e.id)).toEqual(missed);
    expect(onB.events.map((e) => e.data)).toEqual(["y1", "direct2", "x3", "y4"]);
  });

  it("a Last-Event-ID in a foreign format gets the history-gap signal, and the stream goes on", async () => {
    const [a] = await twoNodes();
    const ch = unique("foreign");
    const client = await a.connect(`/?sid=${unique("u")}&ch=${ch}`, { "last-event-id": "not-a-stream-id" });
    await sleep(50);
    await a.channel(ch).broadcastAll("live");
    await client.waitForEvents(3);
    expect(client.events.slice(0, 2).map((e) => [e.event, JSON.parse(e.data).reason])).toEqual([
      ["history-gap", "malformed"],
      ["history-gap", "malformed"],
    ]);
    expect(client.events[2]?.data).toBe("live");
  });
});

describe.skipIf(!enabled)("Redis backplane: bad input", () => {
  it("rejects a malformed URL, a client that is not a node-redis client and a bad prefix or nodeId with INVALID_OPTION", async () => {
    const { createRedisBackplane } = await import("../../src/redis/index.js");
    expect(errorOf(() => createRedisBackplane({ url: "http://nope" })).code).toBe("INVALID_OPTION");
    expect(errorOf(() => createRedisBackplane({ url: "redis://" })).code).toBe("INVALID_OPTION");
    expect(errorOf(() => createRedisBackplane({ client: {} })).code).toBe("INVALID_OPTION");
    expect(errorOf(() => createRedisBackplane({ url: redis.url, prefix: "{bad}" })).code).toBe("INVALID_OPTION");
    for (const nodeId of ["", "n".repeat(257), 42]) {
      const error = errorOf(() => createRedisBackplane({ url: redis.url, nodeId: nodeId as string }));
      expect([error.code, error.field]).toEqual(["INVALID_OPTION", "nodeId"]);
    }
  });

  it("a Redis that refuses the connection: state reconnecting, a typed error, broadcasts rejected, nothing thrown", async () => {
    const { createRedisBackplane } = await import("../../src/redis/index.js");
    const { BroadcastStream } = await import("../../src/index.js");
    const backplane = createRedisBackplane({ url: "redis://127.0.0.1:1" });
    const errors: string[] = [];
    backplane.errors$.subscribe((e) => errors.push(e.code));
    await waitFor(() => errors.length > 0, "a typed error");
    expect(errors[0]).toBe("BACKPLANE_UNAVAILABLE");
    const channel = new BroadcastStream(unique("down"), { backplane });
    await expect(channel.broadcastAll("x")).rejects.toMatchObject({ code: "BACKPLANE_UNAVAILABLE" });
    await expect(backplane.ready(200)).rejects.toMatchObject({ code: "BACKPLANE_UNAVAILABLE" });
    channel.close();
    await backplane.close();
    expect(backplane.state).toBe("closed");
  });

  it("channel ids and sessionIds with key-breaking characters are encoded; ids over 256 characters are rejected", async () => {
    const [a, b] = await twoNodes();
    const ch = `odd {tag}:*?[x]\r\n${unique("ch")}`;
    const sid = `user:{42}*\n${unique("s")}`;
    const client = await b.connect(`/?sid=${encodeURIComponent(sid)}&ch=${encodeURIComponent(ch)}`);
    await sleep(50);
    const id = await a.channel(ch).broadcastAll("through odd keys");
    const direct = await a.backplane.sendTo(sid, "and to an odd id");
    await client.waitForEvents(2);
    expect(client.events.map((e) => e.id)).toEqual([id, direct]);
    const keys = createClient({ url: redis.url });
    await keys.connect();
    const all = await keys.keys("{ef}:*");
    await keys.close();
    expect(all.every((key) => /^\{ef\}:[A-Za-z0-9._~%:-]+$/.test(key))).toBe(true);
    expect(errorOf(() => a.channel("x".repeat(257))).code).toBe("INVALID_ARGUMENT");
    expect(errorOf(() => a.backplane.sendTo("y".repeat(257), "x")).code).toBe("INVALID_ARGUMENT");
  });

  it("a session can only join channels on its own backplane", async () => {
    const [a, b] = await twoNodes();
    const ch = unique("mismatch");
    const client = await a.connect("/");
    const session = a.sessions[0];
    expect(errorOf(() => b.channel(ch).register(session as never)).code).toBe("INVALID_ARGUMENT");
    const { BroadcastStream } = await import("../../src/index.js");
    expect(errorOf(() => new BroadcastStream(ch).register(session as never)).code).toBe("INVALID_ARGUMENT");
    expect(errorOf(() => a.channel(ch) && new BroadcastStream(ch, { backplane: a.backplane })).code).toBe(
      "INVALID_ARGUMENT",
    );
    client.destroy();
  });
});

describe.skipIf(!enabled)("Redis backplane: Redis loses acknowledged writes", () => {
  it("after a restore from an older snapshot, a replay from before the lost events is a gap, never a silent skip", async () => {
    const own = await startRedis();
    const started: BackplaneNode[] = [];
    try {
      const a = await startNode(own.url, unique("A"));
      started.push(a);
      const ch = unique("rollback");
      a.channel(ch);
      await sleep(50);
      const ids: string[] = [];
      for (const data of ["e1", "e2", "e3"]) ids.push(await a.channel(ch).broadcastAll(data));
      const admin = createClient({ url: own.url }).on("error", () => {});
      await admin.connect();
      await admin.sendCommand(["SAVE"]);
      await admin.close();
      for (const data of ["e4", "e5", "e6"]) ids.push(await a.channel(ch).broadcastAll(data));
      // Redis dies and comes back from its snapshot: e4..e6 were acknowledged, and are gone.
      await own.kill();
      await own.start();
      await waitFor(() => a.backplane.state === "connected", "node A to reconnect", 10_000);
      await sleep(200);
      const b = await startNode(own.url, unique("B"));
      started.push(b);
      b.channel(ch);
      await sleep(100);
      const client = await b.connect(`/?ch=${ch}`, { "last-event-id": ids[1] as string });
      await client.waitForEvents(1);
      expect(client.events[0]).toMatchObject({ event: "history-gap" });
      expect(JSON.parse(client.events[0]?.data ?? "{}")).toEqual({ source: `channel:${ch}`, reason: "too-old" });
    } finally {
      for (const node of started) await node.close();
      await own.stop();
    }
  }, 30_000);
});
