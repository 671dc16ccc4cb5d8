import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";

/** A forked fixture process that answers IPC messages. */
export interface Child {
  readonly process: ChildProcess;
  /** Resolves with the next message whose `type` is `type`. */
  next<T = Record<string, unknown>>(type: string, timeoutMs?: number): Promise<T>;
  send(message: Record<string, unknown>): void;
  kill(): Promise<void>;
}

/** Forks `test/fixtures/<name>` (it imports the built package) with `--expose-gc`. */
export function forkFixture(name: string, env: Record<string, string> = {}, execArgv: string[] = []): Child {
  const path = fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
  const child = fork(path, [], {
    env: { ...process.env, ...env },
    execArgv: ["--expose-gc", ...execArgv],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const queue: Record<string, unknown>[] = [];
  const waiters: { type: string; resolve: (m: Record<string, unknown>) => void }[] = [];
  child.on("message", (message: Record<string, unknown>) => {
    const index = waiters.findIndex((w) => w.type === message.type);
    if (index === -1) queue.push(message);
    else waiters.splice(index, 1)[0]?.resolve(message);
  });
  return {
    process: child,
    next<T>(type: string, timeoutMs = 60_000): Promise<T> {
      const index = queue.findIndex((m) => m.type === type);
      if (index !== -1) return Promise.resolve(queue.splice(index, 1)[0] as T);
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "${type}" message from ${name}`)), timeoutMs);
        const onExit = (code: number | null): void => reject(new Error(`${name} exited with ${code}`));
        child.once("exit", onExit);
        waiters.push({
          type,
          resolve: (m) => {
            clearTimeout(timer);
            child.off("exit", onExit);
            resolve(m as T);
          },
        });
      });
    },
    send: (message) => child.send(message),
    kill: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  };
}
