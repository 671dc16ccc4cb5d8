import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Where each runtime's binary can be: the npm package's bin link (its postinstall puts the real binary there), then
 * the platform package the npm package depends on, which ships the same binary inside the registry tarball.
 */
const CANDIDATES: Record<"bun" | "deno", string[]> = {
  bun: [
    "node_modules/.bin/bun",
    "node_modules/@oven/bun-linux-x64/bin/bun",
    "node_modules/@oven/bun-linux-x64-baseline/bin/bun",
  ],
  deno: ["node_modules/.bin/deno", "node_modules/@deno/linux-x64-glibc/deno"],
};

const found = new Map<string, string | undefined>();

/**
 * The path of a working `bun` or `deno` binary (dev dependencies from npm), or undefined: then the caller's tests
 * are skipped with a loud notice, except under CI=true, where a runtime that cannot run is a failure.
 */
export function runtimeBinary(name: "bun" | "deno"): string | undefined {
  if (found.has(name)) return found.get(name);
  const tried: string[] = [];
  let binary: string | undefined;
  for (const candidate of CANDIDATES[name]) {
    const path = `${root}${candidate}`;
    if (!existsSync(path)) {
      tried.push(`${candidate}: missing`);
      continue;
    }
    const run = spawnSync(path, ["--version"], { encoding: "utf8", timeout: 20_000 });
    if (run.status === 0) {
      binary = path;
      break;
    }
    tried.push(`${candidate}: ${(run.error?.message ?? run.stderr ?? `exit ${run.status}`).trim().slice(0, 200)}`);
  }
  found.set(name, binary);
  if (binary !== undefined) return binary;
  const why = `${name} cannot run here (${tried.join("; ")}). It comes from the npm package "${name}" (npm ci installs it).`;
  if (process.env.CI === "true") throw new Error(`${why} Under CI=true the ${name} tests must run.`);
  console.warn(`\n**********\n** SKIPPING ${name} tests: ${why}\n**********\n`);
  return undefined;
}
