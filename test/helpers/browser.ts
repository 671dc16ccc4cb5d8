import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/**
 * Whether browser tests can run. Without Chromium they are skipped with a loud notice, except under CI=true,
 * where a missing browser is a failure (.ci/run installs it).
 */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI === "true") {
    throw new Error(`Chromium is required under CI=true but ${CHROMIUM} is missing: .ci/run must install it.`);
  }
  console.warn(
    `\n**********\n** SKIPPING browser tests: ${CHROMIUM} not found. Install it with: apt-get install -y chromium\n**********\n`,
  );
  return false;
}

/** Real headless Chromium with the flags this machine needs as root, and a fresh profile directory. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), "event-flare-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
