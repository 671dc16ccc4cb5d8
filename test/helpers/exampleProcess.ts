import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface RunningExample {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  stop(): Promise<void>;
}

const root = fileURLToPath(new URL("../..", import.meta.url));

/** Starts `examples/<name>/server.mjs` on a free port and resolves with its URL once it prints "listening on …". */
export function startExample(name: string, env: Record<string, string> = {}): Promise<RunningExample> {
  const child = spawn(process.execPath, [`examples/${name}/server.mjs`], {
    cwd: root,
    env: { ...process.env, PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let started = false;
  return new Promise((resolve, reject) => {
    const timeout = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`example ${name} did not start:\n${output}`));
    }, 15_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (started) return;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match?.[1] === undefined) return;
      clearTimeout(timeout);
      started = true;
      resolve({
        url: match[1],
        child,
        output: () => output,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once("exit", () => done());
            child.kill("SIGTERM");
          }),
      });
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("exit", (code) => {
      clearTimeout(timeout);
      reject(new Error(`example ${name} exited with ${code}:\n${output}`));
    });
  });
}
