import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

/** Tests that fork fixtures or examples import the built package; build it when `vitest` runs alone. */
export default function setup(): void {
  if (!existsSync("dist/esm/index.js") || !existsSync("dist/cjs/index.js")) {
    execFileSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" });
  }
}
