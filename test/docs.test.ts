import { readFileSync } from "node:fs";
import { describe, expect, expectTypeOf, it } from "vitest";
import { EVENT_FLARE_ERROR_CODES, type EventFlareErrorCode } from "../src/index.js";

const apiMd = readFileSync(new URL("../docs/api.md", import.meta.url), "utf8");

/** The first column of the table under `## Errors` in docs/api.md, without the backticks. */
function documentedErrorCodes(markdown: string): string[] {
  const lines = markdown.split("\n");
  const heading = lines.indexOf("## Errors");
  if (heading < 0) throw new Error('docs/api.md has no "## Errors" section');
  const end = lines.findIndex((line, i) => i > heading && line.startsWith("## "));
  const section = lines.slice(heading + 1, end < 0 ? undefined : end);
  const rows = section.filter((line) => line.startsWith("|")).slice(2); // skip the header and the |---| line
  if (rows.length === 0) throw new Error("the Errors section of docs/api.md has no table");
  return rows.map((row) => {
    const code = /^\|\s*`([A-Z_]+)`\s*\|/.exec(row)?.[1];
    if (code === undefined) throw new Error(`cannot read an error code from this row of docs/api.md: ${row}`);
    return code;
  });
}

describe("docs/api.md", () => {
  it("documents every error code, and only those", () => {
    const documented = documentedErrorCodes(apiMd);
    expect(new Set(documented).size, "a code is listed twice").toBe(documented.length);
    const codes: readonly string[] = EVENT_FLARE_ERROR_CODES;
    expect(
      codes.filter((code) => !documented.includes(code)),
      "codes missing from the table",
    ).toEqual([]);
    expect(
      documented.filter((code) => !codes.includes(code)),
      "codes in the table that do not exist",
    ).toEqual([]);
  });

  it("lists exactly the codes of the EventFlareErrorCode type (compile-time check)", () => {
    expectTypeOf<(typeof EVENT_FLARE_ERROR_CODES)[number]>().toEqualTypeOf<EventFlareErrorCode>();
    expect(new Set(EVENT_FLARE_ERROR_CODES).size).toBe(EVENT_FLARE_ERROR_CODES.length);
  });
});
