import { afterEach, expect, it } from "vitest";
import { heartbeatTimers } from "../src/heartbeat.js";
import { BroadcastStream, Session } from "../src/index.js";
import { openSessions } from "../src/session/openSessions.js";
import { type Child, forkFixture } from "./helpers/child.js";
import { connectRaw } from "./helpers/rawClient.js";
import { startServer, type TestServer, waitFor } from "./helpers/server.js";

let server: TestServer | undefined;
let child: Child | undefined;
afterEach(async () => {
  await child?.kill();
  await server?.close();
});

it("5,000 clients connecting and aborting within a second: no unhandled error, no leaked session, the others keep being served", async () => {
  const failures: unknown[] = [];
  const onFailure = (error: unknown) => failures.push(error);
  process.on("uncaughtException", onFailure);
  process.on("unhandledRejection", onFailure);
  try {
    const channel = new BroadcastStream("abort-storm");
    let opened = 0;
    server = await startServer((req, res) => {
      const session = new Session(req, res, { heartbeatInterval: 200 });
      opened += 1;
      channel.register(session);
    });
    const healthy = await connectRaw(`${server.url}/`);
    await waitFor(() => channel.getActiveConnections() === 1, "the healthy client");
    const ticker = setInterval(() => channel.broadcastAll(`tick ${Date.now()}`), 10);
    child = forkFixture("abort-storm.mjs", { PORT: new URL(server.url).port, COUNT: "5000" });
    await child.next("done", 30_000);
    await waitFor(() => openSessions.size === 1, `aborted sessions to close (${openSessions.size} open)`, 10_000);
    clearInterval(ticker);
    const before = healthy.events.length;
    channel.broadcastAll("after the storm");
    await healthy.waitForEvents(before + 1);
    expect(healthy.events.at(-1)?.data).toBe("after the storm");
    expect(healthy.ended()).toBe(false);
    expect(channel.getActiveConnections()).toBe(1);
    expect(opened).toBeGreaterThan(1000); // the requests that arrived before their client left opened a session
    expect(heartbeatTimers()).toBe(1);
    expect(failures).toEqual([]);
    healthy.destroy();
  } finally {
    process.off("uncaughtException", onFailure);
    process.off("unhandledRejection", onFailure);
  }
}, 60_000);
