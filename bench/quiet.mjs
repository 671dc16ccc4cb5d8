// Waiting for a quiet machine (other engineers run tests on it): shared by the scale benchmark.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

let jiffyUs = 10_000;
try {
  jiffyUs = 1e6 / Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
} catch {}

/** Machine-wide busy CPU time from /proc/stat, in µs (everything but idle and iowait), or undefined off Linux. */
export function busyUs() {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = fields;
    return (user + nice + system + irq + softirq + steal) * jiffyUs;
  } catch {
    return undefined;
  }
}

/**
 * Waits until the machine uses at most `cores` cores over a second (none of our children run then), for at most
 * `maxWaitMs`. Resolves with the cores seen last, and whether it had to give up.
 */
export async function waitForQuiet({ cores = 0.15, maxWaitMs = 900_000, log = () => {} } = {}) {
  const deadline = Date.now() + maxWaitMs;
  let waited = false;
  for (;;) {
    const a = busyUs();
    const t = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const b = busyUs();
    if (a === undefined || b === undefined) return { cores: 0, busy: false };
    const used = (b - a) / ((Date.now() - t) * 1000);
    if (used <= cores) {
      if (waited) log(`machine quiet again (${used.toFixed(2)} cores busy)`);
      return { cores: used, busy: false };
    }
    if (Date.now() > deadline) {
      log(`machine still busy (${used.toFixed(2)} cores) after ${maxWaitMs / 1000} s; going on`);
      return { cores: used, busy: true };
    }
    if (!waited) log(`machine busy (${used.toFixed(2)} cores used by other processes); waiting`);
    waited = true;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}
