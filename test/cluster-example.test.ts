import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { EventSource } from "eventsource";
import { afterEach, describe, expect, it } from "vitest";
import { chromiumAvailable, launchChromium } from "./helpers/browser.js";
import { type RunningExample, startExample } from "./helpers/exampleProcess.js";
import { redisAvailable } from "./helpers/redis.js";
import { waitFor } from "./helpers/server.js";

// examples/cluster: redis-server, two event-flare nodes and a TCP balancer, as a user runs them (the built package).
// A real `eventsource` client goes through the balancer; the node serving it is killed; the client must reconnect on
// its own to the other node and go on with every tick exactly once.
const enabled = redisAvailable();
const withChromium = enabled && chromiumAvailable();
const TICK_MS = 200;

let running: RunningExample | undefined;
const streams: EventSource[] = [];
afterEach(async () => {
  for (const source of streams.splice(0)) source.close();
  await running?.stop();
  running = undefined;
});

interface Tick {
  n: number;
  by: string;
  id: string;
  /** Which connection of the client (1 = the first) it arrived on. */
  connection: number;
}

/** A client of the page's stream, recording what it gets. */
function openStream(url: string) {
  const source = new EventSource(`${url}/events?sid=${randomUUID()}`);
  streams.push(source);
  const seen = {
    connections: 0,
    nodes: [] as { node: string; id: string }[],
    ticks: [] as Tick[],
    gaps: [] as string[],
  };
  source.onopen = () => {
    seen.connections += 1;
  };
  source.addEventListener("node", (e) => seen.nodes.push({ node: JSON.parse(e.data).node, id: e.lastEventId }));
  source.addEventListener("tick", (e) => {
    const { n, by } = JSON.parse(e.data) as { n: number; by: string };
    seen.ticks.push({ n, by, id: e.lastEventId, connection: seen.connections });
  });
  source.addEventListener("history-gap", (e) => seen.gaps.push(e.data));
  return { source, seen };
}

/** Opens streams through the balancer (it takes the nodes in turn) until one is served by the publisher or not. */
async function streamServedBy(url: string, publisher: boolean) {
  for (let attempt = 0; attempt < 4; attempt++) {
    const stream = openStream(url);
    const { seen } = stream;
    await waitFor(() => seen.nodes.length > 0 && seen.ticks.length > 0, "the node and a first tick");
    if ((seen.nodes[0]?.node === seen.ticks.at(-1)?.by) === publisher) return stream;
    stream.source.close();
  }
  throw new Error("the balancer never reached the node wanted");
}

/** The example's processes, from what it printed. */
function processes(output: string) {
  const nodes = [...output.matchAll(/node (\w+) \(pid (\d+)\) on (http:\/\/127\.0\.0\.1:\d+)/g)].map((m) => ({
    name: m[1] as string,
    pid: Number(m[2]),
    url: m[3] as string,
  }));
  const redis = /redis-server \(pid (\d+)\) on \S+, data in (\S+)/.exec(output);
  return { nodes, redisPid: Number(redis?.[1]), dir: redis?.[2] as string };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const compareIds = (a: string, b: string): number => {
  const [x, y] = [a, b].map((id) => id.split("-").map(BigInt)) as [bigint[], bigint[]];
  return x[0] !== y[0] ? Number((x[0] as bigint) - (y[0] as bigint)) : Number((x[1] as bigint) - (y[1] as bigint));
};

/** Kills the node serving `seen` with POST /crash and waits until the client is served by the other one. */
async function crashServingNode(seen: ReturnType<typeof openStream>["seen"]) {
  const { nodes } = processes(running?.output() ?? "");
  expect(nodes.map((n) => n.name)).toEqual(["A", "B"]);
  const victim = nodes.find((n) => n.name === seen.nodes[0]?.node);
  if (victim === undefined) throw new Error(`no node ${seen.nodes[0]?.node} in the output`);
  const crashed = await fetch(`${victim.url}/crash`, { method: "POST" });
  expect(crashed.status).toBe(202);
  await waitFor(() => !alive(victim.pid), "the node to die");
  const before = seen.ticks.length;
  await waitFor(() => seen.nodes.length === 2 && seen.ticks.length >= before + 8, "ticks from the other node", 10_000);
  return victim;
}

/** Every tick once, in order, none missing; no history-gap; ids increasing. */
function expectContinuous(seen: ReturnType<typeof openStream>["seen"]) {
  const numbers = seen.ticks.map((t) => t.n);
  const first = numbers[0] ?? 0;
  expect(numbers).toEqual(numbers.map((_, i) => first + i));
  expect(seen.gaps).toEqual([]);
  for (let i = 1; i < seen.ticks.length; i++) {
    expect(compareIds(seen.ticks[i]?.id ?? "", seen.ticks[i - 1]?.id ?? "")).toBeGreaterThan(0);
  }
}

/** Stops the example and checks that every one of its processes is gone, and its Redis directory too. */
async function stopAndCheck() {
  const { nodes, redisPid, dir } = processes(running?.output() ?? "");
  const pids = [running?.child.pid as number, redisPid, ...nodes.map((n) => n.pid)];
  for (const source of streams) source.close();
  const started = Date.now();
  await running?.stop();
  running = undefined;
  expect(Date.now() - started).toBeLessThan(5000);
  expect(pids.filter(alive)).toEqual([]);
  expect(existsSync(dir)).toBe(false);
}

describe.skipIf(!enabled)("examples/cluster", () => {
  it("a client whose node is killed resumes on the other node: the ticks it missed are replayed, none twice", async () => {
    running = await startExample("cluster", { EXAMPLE_ALLOW_CRASH: "1", TICK_MS: String(TICK_MS) });
    const { seen } = await streamServedBy(running.url, false);
    await waitFor(() => seen.ticks.length >= 3, "ticks");
    const publisher = seen.ticks.at(-1)?.by;
    const victim = await crashServingNode(seen);

    expect(seen.nodes[1]?.node).not.toBe(victim.name);
    expect(seen.nodes[1]?.node).toBe(publisher);
    expectContinuous(seen);
    // The publisher kept ticking while the client was away: those ticks came back on the new connection (ids
    // below the one of the new node's greeting, so published before the new session opened).
    const greeting = seen.nodes[1]?.id ?? "";
    const replayed = seen.ticks.filter((t) => t.connection === 2 && compareIds(t.id, greeting) < 0);
    expect(replayed.length).toBeGreaterThan(0);
    await stopAndCheck();
  });

  it("when the node serving a client and publishing the ticks is killed, the other takes over with no gap", async () => {
    running = await startExample("cluster", { EXAMPLE_ALLOW_CRASH: "1", TICK_MS: String(TICK_MS) });
    const { seen } = await streamServedBy(running.url, true);
    await waitFor(() => seen.ticks.length >= 3, "ticks");
    const victim = await crashServingNode(seen);

    expect(seen.nodes[1]?.node).not.toBe(victim.name);
    expect(seen.ticks.at(-1)?.by).toBe(seen.nodes[1]?.node); // the survivor publishes now
    expectContinuous(seen);
    await stopAndCheck();
  });

  it("POST /crash is refused without EXAMPLE_ALLOW_CRASH=1", async () => {
    running = await startExample("cluster");
    const [node] = processes(running.output()).nodes;
    expect((await fetch(`${node?.url}/crash`, { method: "POST" })).status).toBe(404);
    expect(alive(node?.pid ?? 0)).toBe(true);
    await stopAndCheck();
  });
});

describe("examples/cluster without Redis", () => {
  it("says how to install redis-server when it is not on the PATH, and exits non-zero", () => {
    const result = spawnSync(process.execPath, ["examples/cluster/start.mjs"], {
      env: { ...process.env, PATH: "/nonexistent" },
      encoding: "utf8",
      timeout: 10_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("apt-get install redis-server");
    expect(result.stdout).not.toContain("listening on");
  });
});

describe.runIf(withChromium)("examples/cluster in real Chromium", () => {
  it("the page shows missing: 0 after the node serving it is killed, and the node it moved to", async () => {
    running = await startExample("cluster", { EXAMPLE_ALLOW_CRASH: "1", TICK_MS: String(TICK_MS) });
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      await page.goto(running.url);
      const text = async (id: string) => (await page.locator(`#${id}`).textContent()) ?? "";
      const tick = async () => Number((await text("tick")).split(" ")[0]);
      await page.waitForFunction(() => document.getElementById("ticks")?.textContent?.includes(" "));
      const served = await text("node");
      const victim = processes(running.output()).nodes.find((n) => n.name === served);
      expect((await fetch(`${victim?.url}/crash`, { method: "POST" })).status).toBe(202);
      const before = await tick();
      await page.waitForFunction((old) => document.getElementById("node")?.textContent !== old, served, {
        timeout: 5000,
      });
      await page.waitForFunction(
        (n) => Number(document.getElementById("tick")?.textContent?.split(" ")[0]) >= n,
        before + 8,
        { timeout: 10_000 },
      );
      expect(await text("missing")).toBe("missing: 0");
      expect(await text("duplicates")).toBe("duplicates: 0");
      expect(await text("gaps")).toBe("none");
      expect(await text("state")).toBe("(live)");
    } finally {
      await browser.close();
    }
    await stopAndCheck();
  });
});
