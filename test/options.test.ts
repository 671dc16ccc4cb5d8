import { describe, expect, it } from "vitest";
import { resolveBroadcastStreamOptions, resolveSessionOptions } from "../src/options.js";
import { errorOf } from "./helpers/errors.js";

describe("session options", () => {
  it("applies the seed defaults", () => {
    const o = resolveSessionOptions(undefined);
    expect(o).toMatchObject({
      heartbeatInterval: 30000,
      retryInterval: 1000,
      historySize: 100,
      sessionId: undefined,
      historyTtl: 300000,
      maxBufferedBytes: 1048576,
      flushInterval: 0,
      replayLast: 0,
    });
  });

  it("accepts the seed README's example and any positive historySize", () => {
    const o = resolveSessionOptions({
      heartbeatInterval: 20000,
      retryInterval: 2000,
      historySize: 500,
      sessionId: "my-custom-session-id",
    });
    expect(o).toMatchObject({ heartbeatInterval: 20000, retryInterval: 2000, historySize: 500 });
    expect(resolveSessionOptions({ historySize: 1 }).historySize).toBe(1);
    expect(resolveSessionOptions({ historySize: 100000 }).historySize).toBe(100000);
  });

  it("bounds the fan-out per turn at 250 sessions by default, and takes any positive integer or Infinity", () => {
    expect(resolveSessionOptions(undefined).flushSliceSize).toBe(250);
    expect(resolveSessionOptions({ flushSliceSize: 1 }).flushSliceSize).toBe(1);
    expect(resolveSessionOptions({ flushSliceSize: Number.POSITIVE_INFINITY }).flushSliceSize).toBe(
      Number.POSITIVE_INFINITY,
    );
  });

  it("shares one resolved object between equal options, and never between different ones", () => {
    const a = resolveSessionOptions({ heartbeatInterval: 20_000 });
    expect(resolveSessionOptions({ heartbeatInterval: 20_000 })).toBe(a);
    expect(resolveSessionOptions({ heartbeatInterval: 20_000, sessionId: "x" })).not.toBe(a);
    expect(resolveSessionOptions({ heartbeatInterval: 20_000, sessionId: "x" }).sessionId).toBe("x");
    expect(resolveSessionOptions({ heartbeatInterval: 20_000, sessionId: "y" }).sessionId).toBe("y");
  });

  it("treats undefined and null values as the default (searchParams.get returns null for a missing key)", () => {
    expect(resolveSessionOptions({ heartbeatInterval: undefined }).heartbeatInterval).toBe(30000);
    expect(resolveSessionOptions({ sessionId: null }).sessionId).toBeUndefined();
    expect(resolveSessionOptions({ historySize: null }).historySize).toBe(100);
  });

  it("keeps the default heartbeat below event-source-polyfill's 45 s heartbeatTimeout, and still accepts the seed's 45000", () => {
    expect(resolveSessionOptions(undefined).heartbeatInterval).toBeLessThan(45000 * 0.75);
    expect(resolveSessionOptions({ heartbeatInterval: 45000 }).heartbeatInterval).toBe(45000);
  });

  it("caps retryInterval at setTimeout's limit, like heartbeatInterval: a larger value makes clients reconnect at once", () => {
    expect(resolveSessionOptions({ retryInterval: 2 ** 31 - 1 }).retryInterval).toBe(2 ** 31 - 1);
    expect(errorOf(() => resolveSessionOptions({ retryInterval: 2 ** 31 }))).toMatchObject({
      code: "INVALID_OPTION",
      field: "retryInterval",
    });
    expect(errorOf(() => resolveSessionOptions({ retryInterval: 2 ** 53 - 1 })).code).toBe("INVALID_OPTION");
  });

  it("quotes, cuts and escapes echoed values: a huge or CRLF-laden sessionId makes a short, one-line message", () => {
    const huge = errorOf(() => resolveSessionOptions({ sessionId: "x".repeat(1024 * 1024) }));
    expect(huge.code).toBe("INVALID_OPTION");
    expect(huge.message.length).toBeLessThan(300);
    expect(huge.message).toContain("(1048576 characters)");
    const forged = errorOf(() => resolveSessionOptions({ sessionId: `${"a".repeat(300)}\r\nlevel=error forged` }));
    expect(forged.message).not.toMatch(/[\r\n]/);
    const newline = errorOf(() => resolveSessionOptions({ historySize: "1\r\nforged" }));
    expect(newline.message).toContain('"1\\r\\nforged"');
    expect(newline.message).not.toMatch(/[\r\n]/);
    const unknown = errorOf(() => resolveSessionOptions({ "bad\nname": 1 }));
    expect(unknown.message).not.toMatch(/[\r\n]/);
  });

  it.each([
    ["an object whose toString is not a function", { toString: 1 }],
    ["a null-prototype object", Object.create(null)],
    ["a symbol", Symbol("s")],
    ["a BigInt", 10n],
  ])("rejects %s with an EventFlareError, never a TypeError", (_, value) => {
    for (const name of ["sessionId", "historySize", "scheduler"]) {
      expect(errorOf(() => resolveSessionOptions({ [name]: value }))).toMatchObject({
        code: "INVALID_OPTION",
        field: name,
      });
    }
  });

  it("takes maxBurstBytes and drainTimeout, with maxBurstBytes at least maxBufferedBytes", () => {
    expect(resolveSessionOptions(undefined)).toMatchObject({ maxBurstBytes: 8 * 1048576, drainTimeout: 5000 });
    expect(resolveSessionOptions({ maxBufferedBytes: 1000 }).maxBurstBytes).toBe(8000);
    expect(errorOf(() => resolveSessionOptions({ maxBufferedBytes: 1000, maxBurstBytes: 999 }))).toMatchObject({
      code: "INVALID_OPTION",
      field: "maxBurstBytes",
    });
  });

  const bad: [string, unknown][] = [
    ["heartbeatInterval", 0],
    ["heartbeatInterval", -5],
    ["heartbeatInterval", Number.NaN],
    ["heartbeatInterval", Number.POSITIVE_INFINITY],
    ["heartbeatInterval", "45000"],
    ["heartbeatInterval", 2 ** 31],
    ["retryInterval", -1],
    ["retryInterval", 1.5],
    ["retryInterval", Number.NaN],
    ["retryInterval", "1000"],
    ["historySize", 0],
    ["historySize", -1],
    ["historySize", 2.5],
    ["historySize", Number.POSITIVE_INFINITY],
    ["sessionId", ""],
    ["sessionId", 42],
    ["sessionId", "x".repeat(257)],
    ["historyTtl", -1],
    ["maxBufferedBytes", 0],
    ["flushInterval", -1],
    ["flushSliceSize", 0],
    ["flushSliceSize", 2.5],
    ["flushSliceSize", Number.NaN],
    ["replayLast", 1.5],
    ["scheduler", {}],
  ];
  it.each(bad)("rejects %s = %s with INVALID_OPTION naming the option", (name, value) => {
    const error = errorOf(() => resolveSessionOptions({ [name]: value }));
    expect(error.code).toBe("INVALID_OPTION");
    expect(error.field).toBe(name);
    expect(error.message).toContain(`"${name}"`);
    expect(error.message).toMatch(/must be/);
  });

  it("rejects unknown options, listing the known ones", () => {
    const error = errorOf(() => resolveSessionOptions({ heartbeatIntervall: 1000 }));
    expect(error).toMatchObject({ code: "INVALID_OPTION", field: "heartbeatIntervall" });
    expect(error.message).toContain("heartbeatInterval");
  });

  it.each([42, "x", [1]])("rejects options that are not an object (%s)", (value) => {
    expect(errorOf(() => resolveSessionOptions(value)).code).toBe("INVALID_OPTION");
  });
});

describe("channel options", () => {
  it("applies the defaults", () => {
    expect(resolveBroadcastStreamOptions(undefined)).toMatchObject({
      historySize: 100,
      historyMaxAge: undefined,
      replayLast: 0,
    });
  });

  it.each([
    ["historySize", 0],
    ["historyMaxAge", 0],
    ["replayLast", -1],
    ["nope", 1],
  ])("rejects %s = %s", (name, value) => {
    expect(errorOf(() => resolveBroadcastStreamOptions({ [name]: value }))).toMatchObject({
      code: "INVALID_OPTION",
      field: name,
    });
  });
});
