// Every runtime guide's example, started as a user would start it (Bun's and Deno's on their own binaries), and read
// with the real eventsource client (or an HTTP/2 client over TLS). The Next.js route handler is called directly.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { EventSource } from "eventsource";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { afterEach, describe, expect, it } from "vitest";
import { connectH2, requestH2, selfSignedCertificate } from "./helpers/h2.js";
import { runtimeBinary } from "./helpers/runtimes.js";
import { waitFor } from "./helpers/server.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const stops: (() => unknown)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

/** Starts a server and resolves with the URL it prints ("listening on …"). */
function start(command: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const child: ChildProcess = spawn(command, args, {
    cwd: root,
    env: { ...process.env, PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  stops.push(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  );
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(" ")} did not start:\n${output}`)), 20_000);
    const read = (chunk: Buffer) => {
      output += chunk;
      const match = /listening on (https?:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on("data", read);
    child.stderr?.on("data", read);
    child.once("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}:\n${output}`)));
  });
}

/** Reads ticks with the real eventsource client until `count` arrived. */
async function ticks(url: string, count: number): Promise<MessageEvent[]> {
  const source = new EventSource(url);
  stops.push(() => source.close());
  const seen: MessageEvent[] = [];
  source.addEventListener("tick", (event) => seen.push(event as MessageEvent));
  await waitFor(() => seen.length >= count, `${count} ticks from ${url}`, 10_000);
  source.close();
  return seen;
}

function expectTicks(events: MessageEvent[]): void {
  const numbers = events.map((event) => (JSON.parse(event.data) as { n: number }).n);
  expect(numbers.every((n, i) => i === 0 || n === (numbers[i - 1] as number) + 1)).toBe(true);
  expect(events.every((event) => /^\d+-\d+$/.test(event.lastEventId))).toBe(true);
}

describe("runtime examples", () => {
  it("hono (on @hono/node-server)", async () => {
    expectTicks(await ticks(`${await start(process.execPath, ["examples/hono/server.mjs"])}/events`, 2));
  });

  it("fastify: the hook refuses a request without the token, then the stream ticks", async () => {
    const url = await start(process.execPath, ["examples/fastify/server.mjs"]);
    const refused = await fetch(`${url}/events`);
    expect(refused.status).toBe(401);
    expectTicks(await ticks(`${url}/events?token=demo`, 2));
  });

  const bun = runtimeBinary("bun");
  it.skipIf(bun === undefined)("bun (Bun.serve, on the bun binary)", async () => {
    expectTicks(await ticks(`${await start(bun as string, ["examples/bun/server.mjs"])}/events`, 2));
  });

  const deno = runtimeBinary("deno");
  it.skipIf(deno === undefined)("deno (Deno.serve, on the deno binary)", async () => {
    const url = await start(deno as string, ["run", "--allow-net", "--allow-env", "examples/deno/server.mjs"]);
    expectTicks(await ticks(`${url}/events`, 2));
  });

  const cert = selfSignedCertificate();
  it.skipIf(cert === undefined)("http2: the stream API and the compatibility API over TLS", async () => {
    const dir = mkdtempSync(join(tmpdir(), "event-flare-example-tls-"));
    stops.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "key.pem"), cert?.key ?? "");
    writeFileSync(join(dir, "cert.pem"), cert?.cert ?? "");
    const origin = await start(process.execPath, ["examples/http2/server.mjs"], {
      TLS_KEY: join(dir, "key.pem"),
      TLS_CERT: join(dir, "cert.pem"),
    });
    const client = connectH2(origin, cert as NonNullable<typeof cert>);
    stops.push(() => client.destroy());
    for (const path of ["/events", "/compat"]) {
      const stream = await requestH2(client, path);
      expect(stream.status).toBe(200);
      expect(stream.headers.connection).toBeUndefined();
      const [tick] = await stream.waitForEvents(1, 10_000);
      expect(tick?.event).toBe("tick");
      stream.reset();
    }
  });

  it("nextjs: GET(request) of the App Router route handler returns the event stream; Last-Event-ID replays", async () => {
    const routeFile = "../examples/nextjs/app/events/route.js"; // plain JavaScript, as in a Next.js app
    const route = (await import(routeFile)) as {
      GET(request: Request): Promise<Response>;
      dynamic: string;
    };
    expect(route.dynamic).toBe("force-dynamic");
    const read = async (headers: Record<string, string>, count: number) => {
      const controller = new AbortController();
      const response = await route.GET(new Request("http://localhost/events", { headers, signal: controller.signal }));
      expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
      const events: EventSourceMessage[] = [];
      const parser = createParser({ onEvent: (event) => events.push(event) });
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      while (events.length < count) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.feed(decoder.decode(value, { stream: true }));
      }
      controller.abort();
      await reader.cancel();
      return events;
    };
    const first = await read({}, 2);
    const ids = first.map((event) => event.id);
    // A reconnect from the first id gets the second again (replayed from the channel), then live ticks.
    const again = await read({ "last-event-id": ids[0] as string }, 2);
    expect(again[0]).toEqual(first[1]);
    expect(JSON.parse(again[1]?.data ?? "{}").n).toBe(JSON.parse(first[1]?.data ?? "{}").n + 1);
  });
});
