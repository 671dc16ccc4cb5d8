import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sleep } from "./server.js";

export const REDIS_SERVER = "redis-server";

/**
 * Whether tests that need a real redis-server can run. Without one they are skipped with a loud notice, except under
 * CI=true, where a missing server is a failure (.ci/run installs it).
 */
export function redisAvailable(): boolean {
  try {
    execFileSync(REDIS_SERVER, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    if (process.env.CI === "true") {
      throw new Error("redis-server is required under CI=true but was not found: .ci/run must install it.");
    }
    console.warn(
      "\n**********\n** SKIPPING Redis backplane tests: redis-server not found. Install it with: apt-get install -y redis-server\n**********\n",
    );
    return false;
  }
}

/** A free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** Stops the server (SIGKILL: no save on the way out). */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory; with `appendonly`, it reloads what it had. */
  start(): Promise<void>;
  /** Stops it for good and removes its directory. */
  stop(): Promise<void>;
}

/**
 * A real redis-server on a free loopback port, with a temporary directory, no RDB snapshots, and append-only
 * persistence when asked. It dies with the test process (and is stopped by `stop()`).
 */
export async function startRedis(options: { appendonly?: boolean } = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "event-flare-redis-"));
  let child: ChildProcess | undefined;
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    options.appendonly === true ? "yes" : "no",
    "--appendfsync",
    "always",
    "--protected-mode",
    "no",
  ];
  const start = async (): Promise<void> => {
    child = spawn(REDIS_SERVER, args, { stdio: ["ignore", "ignore", "inherit"] });
    const exited = new Promise<never>((_, reject) =>
      child?.once("exit", (code) => reject(new Error(`redis-server exited with ${code}`))),
    );
    exited.catch(() => {});
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (await ping(port)) return;
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start on ${port}`);
      await sleep(20);
    }
  };
  const kill = async (): Promise<void> => {
    const current = child;
    if (current === undefined || current.exitCode !== null || current.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      current.once("exit", () => resolve());
      current.kill("SIGKILL");
    });
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    kill,
    start,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** True when a Redis on `port` answers PING. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    import("node:net").then(({ connect }) => {
      const socket = connect(port, "127.0.0.1");
      let data = "";
      socket.setTimeout(500, () => socket.destroy());
      socket.on("connect", () => socket.write("PING\r\n"));
      socket.on("data", (chunk) => {
        data += chunk.toString();
        if (data.includes("\r\n")) {
          socket.destroy();
          resolve(data.startsWith("+PONG"));
        }
      });
      socket.on("error", () => resolve(false));
      socket.on("close", () => resolve(false));
    });
  });
}
