// Builds the ES module package of one commit into bench/results/builds/<commit>/dist/esm, for benchmarking an older
// build next to the current one in the same run (`node bench/scale.mjs --before=<commit>`, `node bench/run.mjs
// --baseline=<commit>`). The sources come from `git archive`; the build uses this checkout's node_modules (symlinked,
// so the build's `rxjs` import resolves to the same copy as the current build's).
//
//   node bench/build-commit.mjs <commit>   prints the path of the built index.js
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** Builds `commit` (once; a later call reuses the build) and returns the path of its dist/esm/index.js. */
export function buildCommit(commit) {
  const full = execFileSync("git", ["rev-parse", "--short", commit], { cwd: root, encoding: "utf8" }).trim();
  const dir = path.join(root, "bench", "results", "builds", full);
  const entry = path.join(dir, "dist", "esm", "index.js");
  if (existsSync(entry)) return entry;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const archive = execFileSync(
    "git",
    ["archive", full, "src", "package.json", "tsconfig.json", "tsconfig.build.json"],
    {
      cwd: root,
      maxBuffer: 256 * 1024 * 1024,
    },
  );
  execFileSync("tar", ["-x", "-C", dir], { input: archive });
  symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"), "dir");
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: dir, stdio: "inherit" });
  return entry;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === undefined) throw new Error("usage: node bench/build-commit.mjs <commit>");
  process.stdout.write(`${buildCommit(process.argv[2])}\n`);
}
