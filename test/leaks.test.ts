import { Agent } from "node:http";
import { afterEach, expect, it } from "vitest";
import { BroadcastStream, Session } from "../src/index.js";
import { sessionHistories } from "../src/session/historyStore.js";
import { activeHandles, settledHeap } from "./helpers/leakProbe.js";
import { connectRaw } from "./helpers/rawClient.js";
import { startServer, type TestServer, waitFor } from "./helpers/server.js";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
});

it("3000 connect/register/disconnect cycles leave no session, handle, timer or heap behind", async () => {
  const channel = new BroadcastStream("leaks");
  let closed = 0;
  server = await startServer((req, res) => {
    const session = new Session(req, res, { heartbeatInterval: 5_000 });
    session.once("session-closed", () => {
      closed += 1;
    });
    channel.register(session);
    session.pipeFrom(channel.pipe(), "mirror");
  });
  const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  const histories = sessionHistories.size;

  async function cycles(count: number): Promise<void> {
    const target = closed + count;
    for (let done = 0; done < count; done += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, () => connectRaw(`${server?.url}/`, {}, agent)));
      channel.broadcastAll("ping");
      await Promise.all(batch.map((client) => client.waitForEvents(1)));
      for (const client of batch) client.destroy();
    }
    await waitFor(() => closed === target, `${count} sessions to close`);
    await waitFor(() => channel.getActiveConnections() === 0, "the channel to empty");
  }

  await cycles(1000); // warm-up: JIT, socket pools and lazy module state settle (about 1 MiB, then flat)
  await new Promise((resolve) => setTimeout(resolve, 50));
  const handlesBefore = activeHandles();
  const heapBefore = await settledHeap();

  await cycles(3000);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const heapAfter = await settledHeap();

  expect(channel.getActiveConnections()).toBe(0);
  expect(sessionHistories.size).toBe(histories);
  expect(activeHandles()).toEqual(handlesBefore);
  const growth = heapAfter - heapBefore;
  console.log(`leaks: heap growth after 3000 cycles: ${(growth / 1024).toFixed(1)} KiB`);
  // A leaked session with its request, response, subscriptions and writer costs about 9 KiB (see the scale test),
  // so 3000 leaks would be over 25 MiB; V8 noise after the warm-up stays well under 2 MiB.
  expect(growth).toBeLessThan(2 * 1024 * 1024);
  agent.destroy();
}, 120_000);
