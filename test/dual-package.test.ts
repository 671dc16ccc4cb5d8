import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

// Runs against dist/ (built before vitest by `npm test`, or by the global setup).
const fixture = fileURLToPath(new URL("./fixtures/dual-package.mjs", import.meta.url));

it("the ES module and CommonJS builds in one process share one session brand and one id clock", () => {
  const out = execFileSync(process.execPath, [fixture], { encoding: "utf8", timeout: 20_000 });
  const result = JSON.parse(out) as { distinctClasses: boolean; registered: number[]; ids: string[] };
  // Two copies of the classes, yet each build's channel takes the other build's session.
  expect(result.distinctClasses).toBe(true);
  expect(result.registered).toEqual([1, 1]);
  // Ids issued alternately by both builds strictly increase: one clock for the process.
  const parsed = result.ids.map((id) => id.split("-").map(Number) as [number, number]);
  const increasing = parsed.every(([ms, seq], i) => {
    const previous = parsed[i - 1];
    return previous === undefined || ms > previous[0] || (ms === previous[0] && seq > previous[1]);
  });
  expect(result.ids).toHaveLength(800);
  expect(increasing).toBe(true);
});
