import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// These run against dist/, which `npm test` builds before vitest starts.
const root = fileURLToPath(new URL("..", import.meta.url));
const node = (args: string[]): string => execFileSync(process.execPath, args, { cwd: root, encoding: "utf8" });

describe("the published package", () => {
  it("imports from ESM by its name", () => {
    const out = node([
      "--input-type=module",
      "-e",
      'import { Session, EventFlareError } from "event-flare"; console.log(typeof Session, typeof EventFlareError, new EventFlareError("INVALID_OPTION", "m").code);',
    ]);
    expect(out.trim()).toBe("function function INVALID_OPTION");
  });

  it("requires from CommonJS by its name", () => {
    const out = node([
      "-e",
      'const { Session, EventFlareError } = require("event-flare"); console.log(typeof Session, typeof EventFlareError);',
    ]);
    expect(out.trim()).toBe("function function");
  });

  it("ships type declarations that resolve for ESM and CommonJS consumers", () => {
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    const args = [
      tsc,
      "--noEmit",
      "--strict",
      "--skipLibCheck",
      "--module",
      "nodenext",
      "--moduleResolution",
      "nodenext",
      "--types",
      "node",
      "test/package/consumer.mts",
      "test/package/consumer.cts",
    ];
    // tsc exits non-zero (and execFileSync throws with its output) on any type error.
    expect(() => node(args)).not.toThrow();
  });
});
