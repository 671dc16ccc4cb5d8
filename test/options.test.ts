import { describe, expect, it } from "vitest";
import { resolveBroadcastStreamOptions, resolveSessionOptions } from "../src/options.js";
import { errorOf } from "./helpers/errors.js";

describe("session options", () => {
  it("applies the seed defaults", () => {
    const o = resolveSessionOptions(undefined);
    expect(o).toMatchObject({
      heartbeatInterval: 45000,
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

  it("treats undefined values as the default", () => {
    expect(resolveSessionOptions({ heartbeatInterval: undefined }).heartbeatInterval).toBe(45000);
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
    ["historySize", null],
    ["sessionId", ""],
    ["sessionId", 42],
    ["sessionId", "x".repeat(257)],
    ["historyTtl", -1],
    ["maxBufferedBytes", 0],
    ["flushInterval", -1],
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
