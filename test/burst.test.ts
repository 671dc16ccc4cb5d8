import { Agent } from "node:http";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { BroadcastStream, type CloseReason, Session } from "../src/index.js";
import { connectRaw, type RawClient } from "./helpers/rawClient.js";
import { startServer, type TestServer, waitFor } from "./helpers/server.js";

let server: TestServer | undefined;
const closers: { destroy(): void }[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c.destroy();
  await server?.close();
  server = undefined;
});

let n = 0;
const MiB = 1024 * 1024;

/** A channel server with default session options; records why each session closed. */
async function channelServer() {
  const channel = new BroadcastStream(`burst-${++n}`, { historySize: 100 });
  const closed: CloseReason[] = [];
  server = await startServer((req, res) => {
    const session = new Session(req, res, { heartbeatInterval: 60_000 });
    session.on("session-closed", (e) => closed.push(e.reason));
    channel.register(session);
  });
  return { channel, closed, url: server.url };
}

describe("a burst larger than maxBufferedBytes (1 MiB), sent in one turn", () => {
  it.each([
    ["3,072 events of 1 KiB", 3072, 1024],
    ["50,000 events of 64 B (small frames are copied per session)", 50_000, 64],
  ])("reaches 10 fast clients whole and in order as %s, and closes none", async (_, count, frameSize) => {
    const { channel, closed, url } = await channelServer();
    const agent = new Agent({ keepAlive: false, maxSockets: 20 });
    closers.push(agent);
    const clients: RawClient[] = await Promise.all(Array.from({ length: 10 }, () => connectRaw(`${url}/`, {}, agent)));
    closers.push(...clients);
    await waitFor(() => channel.getActiveConnections() === 10, "10 members");
    // The frame is `id: <19 chars>\ndata: <data>\n\n`: 32 bytes around the data.
    const pad = "x".repeat(Math.max(0, frameSize - 32 - 6));
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const data = `${String(i).padStart(6, "0")}${pad}`;
      channel.broadcastAll(data);
      bytes += data.length + 32;
    }
    expect(bytes).toBeGreaterThanOrEqual(3 * MiB);
    for (const client of clients) await client.waitForEvents(count, 20_000);
    for (const client of clients) {
      expect(client.events.length).toBe(count);
      expect(client.events.every((e, i) => Number(e.data.slice(0, 6)) === i)).toBe(true);
    }
    expect(closed).toEqual([]);
    expect(channel.getActiveConnections()).toBe(10);
  });
});

describe("a client that stops reading", () => {
  it("is closed within a few seconds of one 3 MiB burst and nothing more, whatever the heartbeat period", async () => {
    const { channel, closed, url } = await channelServer();
    const socket: Socket = connect(Number(new URL(url).port), "127.0.0.1");
    closers.push(socket);
    socket.on("error", () => {});
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    socket.pause();
    await waitFor(() => channel.getActiveConnections() === 1, "the member");
    const data = "s".repeat(1024);
    for (let i = 0; i < 3072; i++) channel.broadcastAll(data);
    // The default drainTimeout is 5 s; the heartbeat (60 s here) plays no part.
    await waitFor(() => closed.length === 1, "the stuck client to be dropped", 8000);
    expect(closed).toEqual(["slow-consumer"]);
    expect(channel.getActiveConnections()).toBe(0);
  }, 15_000);
});
