import { createServer } from "node:http";
import { type ClientHttp2Session, createSecureServer, type Http2SecureServer } from "node:http2";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { afterEach, expect, it } from "vitest";
import { fromRequest } from "../src/fetch/index.js";
import { heartbeatTimers } from "../src/heartbeat.js";
import { fromHttp2Stream } from "../src/http2/index.js";
import { BroadcastStream, type Session } from "../src/index.js";
import { connectH2, requestH2, selfSignedCertificate, type TestCertificate } from "./helpers/h2.js";
import { activeHandles, settledHeap } from "./helpers/leakProbe.js";
import { connectRaw } from "./helpers/rawClient.js";
import { listen, type TestServer, waitFor } from "./helpers/server.js";

const stops: (() => unknown)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

/**
 * Runs `cycles(count)` (connect, register, one broadcast, disconnect) as a warm-up and then for real, and checks that
 * nothing stays behind: no member, no handle or timer, no heartbeat, and no heap growth a leak would cause.
 */
async function expectNoLeak(channel: BroadcastStream, cycles: (count: number) => Promise<void>, count: number) {
  await cycles(700); // warm-up: JIT, socket pools and lazy module state settle
  await new Promise((resolve) => setTimeout(resolve, 50));
  const handlesBefore = activeHandles();
  const heapBefore = await settledHeap();
  await cycles(count);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const growth = (await settledHeap()) - heapBefore;
  expect(channel.getActiveConnections()).toBe(0);
  expect(activeHandles()).toEqual(handlesBefore);
  console.log(`leaks: heap growth after ${count} cycles: ${(growth / 1024).toFixed(1)} KiB`);
  // A leaked session with its request, body stream, subscriptions and writer costs several KiB: count leaks would be
  // megabytes; V8 noise after the warm-up stays well under 2 MiB.
  expect(growth).toBeLessThan(2 * 1024 * 1024);
}

it("Fetch (Hono on @hono/node-server): 2000 connect/register/disconnect cycles leave nothing behind", async () => {
  const channel = new BroadcastStream("leaks-fetch");
  const sessions: Session[] = [];
  let closed = 0;
  const app = new Hono();
  app.get("/", (c) => {
    const { session, response } = fromRequest(c.req.raw, { heartbeatInterval: 5_000 });
    session.once("session-closed", () => {
      closed += 1;
    });
    sessions.push(session);
    channel.register(session);
    session.pipeFrom(channel.pipe(), "mirror");
    return response;
  });
  const server: TestServer = await listen(createServer(getRequestListener(app.fetch)));
  stops.push(() => server.close());
  await expectNoLeak(
    channel,
    async (count) => {
      const target = closed + count;
      for (let done = 0; done < count; done += 50) {
        const batch = await Promise.all(Array.from({ length: 50 }, () => connectRaw(`${server.url}/`)));
        await waitFor(() => channel.getActiveConnections() === 50, "50 members");
        channel.broadcastAll("ping");
        await Promise.all(batch.map((client) => client.waitForEvents(1)));
        for (const client of batch) client.destroy();
      }
      await waitFor(() => closed === target, `${count} sessions to close`);
      sessions.length = 0;
    },
    2000,
  );
  expect(heartbeatTimers()).toBe(0);
}, 120_000);

const cert = selfSignedCertificate();
it.skipIf(cert === undefined)(
  "HTTP/2 stream API: 2000 streams opened and reset leave nothing behind",
  async () => {
    const channel = new BroadcastStream("leaks-h2");
    let closed = 0;
    const server: Http2SecureServer = createSecureServer({ ...(cert as TestCertificate) });
    server.on("stream", (stream, headers) => {
      const session = fromHttp2Stream(stream, headers, { heartbeatInterval: 5_000 });
      session.once("session-closed", () => {
        closed += 1;
      });
      channel.register(session);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    stops.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    await expectNoLeak(
      channel,
      async (count) => {
        for (let done = 0; done < count; done += 50) {
          // A connection per batch: resetting thousands of streams on one connection trips nghttp2's rapid-reset
          // guard, which closes the whole connection.
          const client: ClientHttp2Session = connectH2(origin, cert as TestCertificate);
          const before = closed;
          const batch = await Promise.all(Array.from({ length: 50 }, () => requestH2(client, "/")));
          await waitFor(() => channel.getActiveConnections() === 50, "50 members");
          channel.broadcastAll("ping");
          await Promise.all(batch.map((stream) => stream.waitForEvents(1)));
          for (const stream of batch) stream.reset();
          await waitFor(() => closed === before + 50, "the batch to close");
          await new Promise<void>((resolve) => client.close(() => resolve()));
        }
      },
      2000,
    );
  },
  120_000,
);
