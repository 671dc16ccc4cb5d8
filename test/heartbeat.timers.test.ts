import { Agent } from "node:http";
import { afterEach, expect, it, vi } from "vitest";
import { Session } from "../src/index.js";
import { connectRaw, type RawClient } from "./helpers/rawClient.js";
import { startServer, type TestServer, waitFor } from "./helpers/server.js";

let server: TestServer | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await server?.close();
});

it("1000 sessions share one heartbeat timer, which stops when the last closes", async () => {
  const sessions: Session[] = [];
  const HEARTBEAT = 60_000;
  server = await startServer((req, res) => {
    sessions.push(new Session(req, res, { heartbeatInterval: HEARTBEAT, historyTtl: 0 }));
  });
  // Watch (not replace) the timer functions: the real timers still run.
  const setIntervalSpy = vi.spyOn(globalThis, "setInterval");
  const clearIntervalSpy = vi.spyOn(globalThis, "clearInterval");
  const heartbeatTimers = () => setIntervalSpy.mock.calls.filter((call) => call[1] === HEARTBEAT).length;

  const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  const clients: RawClient[] = [];
  for (let i = 0; i < 1000; i += 100) {
    clients.push(...(await Promise.all(Array.from({ length: 100 }, () => connectRaw(`${server?.url}/`, {}, agent)))));
  }
  await waitFor(() => sessions.length === 1000, "1000 sessions");
  expect(sessions.every((s) => s.getConnectionState() === "CONNECTED")).toBe(true);
  expect(heartbeatTimers()).toBe(1);
  const timer = setIntervalSpy.mock.results.find((_, i) => setIntervalSpy.mock.calls[i]?.[1] === HEARTBEAT)?.value;
  expect(clearIntervalSpy.mock.calls.some((call) => call[0] === timer)).toBe(false);

  for (const client of clients) client.destroy();
  await waitFor(() => sessions.every((s) => s.getConnectionState() === "DISCONNECTED"), "every session to close");
  // The last session leaving stops the shared interval.
  expect(clearIntervalSpy.mock.calls.some((call) => call[0] === timer)).toBe(true);
  expect(heartbeatTimers()).toBe(1);
  agent.destroy();
});
