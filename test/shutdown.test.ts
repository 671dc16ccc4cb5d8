import { Agent, createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { EventSource } from "eventsource";
import { afterEach, expect, it } from "vitest";
import { BroadcastStream, closeAllSessions, Session } from "../src/index.js";
import { openSessions } from "../src/session/openSessions.js";
import { errorOf } from "./helpers/errors.js";
import { connectRaw, type RawClient } from "./helpers/rawClient.js";
import { sleep, waitFor } from "./helpers/server.js";

const closers: (() => void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await closeAllSessions();
});

function listenOn(server: Server, port = 0): Promise<number> {
  return new Promise((resolve) =>
    server.listen(port, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
}

it("ends 1,000 open sessions gracefully: server.close() completes, every event sent before arrives, clients come back and resume", async () => {
  const channel = new BroadcastStream("shutdown-news");
  const handler = (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => {
    const sid = new URL(req.url ?? "/", "http://x").searchParams.get("sid");
    channel.register(new Session(req, res, { sessionId: sid, retryInterval: 50 }));
  };
  const first = createServer(handler);
  const port = await listenOn(first);
  const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  closers.push(() => agent.destroy());
  const clients: RawClient[] = [];
  for (let i = 0; i < 1000; i += 200) {
    clients.push(
      ...(await Promise.all(Array.from({ length: 200 }, () => connectRaw(`http://127.0.0.1:${port}/`, {}, agent)))),
    );
  }
  closers.push(() => {
    for (const client of clients) client.destroy();
  });
  const resumer = new EventSource(`http://127.0.0.1:${port}/?sid=resumer`);
  closers.push(() => resumer.close());
  const heard: string[] = [];
  resumer.onmessage = (event) => heard.push(event.data);
  await waitFor(() => channel.getActiveConnections() === 1001, "1001 members");
  const sent = Array.from({ length: 20 }, (_, i) => channel.broadcastAll(`before-${i}`));
  await waitFor(() => heard.length === 20, "the resumer to hear them");

  const closed = new Promise<void>((resolve) => first.close(() => resolve()));
  const started = Date.now();
  await closeAllSessions({ retry: 300, channels: false });
  await closed;
  // A deadline for the shutdown to work at all, not a speed measurement.
  expect(Date.now() - started).toBeLessThan(1000);
  expect(openSessions.size).toBe(0);
  for (const client of clients) {
    await client.waitForEnd();
    expect(client.events.map((e) => e.id)).toEqual(sent);
    expect(client.retries.at(-1)).toBe(300);
  }

  // Meanwhile, the channel goes on; the next server (same port) takes the reconnect, which resumes after its last id.
  const missed = channel.broadcastAll("while-away");
  const second = createServer(handler);
  await listenOn(second, port);
  await waitFor(() => heard.length === 21, "the resumed client to catch up", 5000);
  expect(heard.at(-1)).toBe("while-away");
  expect(heard).toEqual([...Array.from({ length: 20 }, (_, i) => `before-${i}`), "while-away"]);
  expect(missed).toBeDefined();
  resumer.close();
  const secondClosed = new Promise<void>((resolve) => second.close(() => resolve()));
  await closeAllSessions();
  await secondClosed;
}, 60_000);

it("also closes every open channel, ending its sources; and rejects a bad retry", async () => {
  const channel = new BroadcastStream("shutdown-sources");
  const { interval } = await import("rxjs");
  const source = channel.broadcastFrom(interval(1000));
  await closeAllSessions();
  expect(source.closed).toBe(true);
  expect(errorOf(() => channel.broadcastAll("x")).code).toBe("CHANNEL_CLOSED");
  await expect(closeAllSessions({ retry: -1 })).rejects.toMatchObject({ code: "INVALID_OPTION", field: "retry" });
  await sleep(1);
});
