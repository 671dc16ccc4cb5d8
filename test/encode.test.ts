import { createParser, type EventSourceMessage } from "eventsource-parser";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EventFlareError, encodeComment, encodeEvent, encodeRetry } from "../src/index.js";
import { errorOf } from "./helpers/errors.js";

describe("encodeEvent: exact wire text", () => {
  it("writes event, id and data fields in order, ending with a blank line", () => {
    expect(encodeEvent({ event: "AAPL-stock-price", id: "1-0", data: "mock data" })).toBe(
      "event: AAPL-stock-price\nid: 1-0\ndata: mock data\n\n",
    );
  });

  it("splits data on CRLF, CR and LF, one data line per piece", () => {
    expect(encodeEvent({ data: "a\r\nb\rc\nd" })).toBe("data: a\ndata: b\ndata: c\ndata: d\n\n");
  });

  it("keeps empty data and empty lines as empty data lines", () => {
    expect(encodeEvent({ data: "" })).toBe("data: \n\n");
    expect(encodeEvent({ data: "\n" })).toBe("data: \ndata: \n\n");
  });

  it("writes retry as an integer field", () => {
    expect(encodeEvent({ data: "x", retry: 2500 })).toBe("retry: 2500\ndata: x\n\n");
    expect(encodeRetry(1000)).toBe("retry: 1000\n\n");
  });

  it("writes one colon line per comment line", () => {
    expect(encodeComment("")).toBe(":\n");
    expect(encodeComment("hello")).toBe(": hello\n");
    expect(encodeComment("a\r\nb\nc")).toBe(": a\n: b\n: c\n");
  });

  it.each([
    ["event", { event: "a\nb", data: "x" }],
    ["event", { event: "a\rb", data: "x" }],
    ["event", { event: "a\0b", data: "x" }],
    ["id", { id: "1\n2", data: "x" }],
    ["id", { id: "1\r2", data: "x" }],
    ["id", { id: "1\u00002", data: "x" }],
  ])("rejects CR, LF or NUL in %s with INVALID_FIELD", (field, fields) => {
    const error = errorOf(() => encodeEvent(fields));
    expect(error).toBeInstanceOf(EventFlareError);
    expect(error).toMatchObject({ code: "INVALID_FIELD", field });
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "100"])("rejects retry %s with INVALID_FIELD", (retry) => {
    expect(errorOf(() => encodeEvent({ data: "x", retry: retry as number }))).toMatchObject({
      code: "INVALID_FIELD",
      field: "retry",
    });
    expect(errorOf(() => encodeRetry(retry as number))).toMatchObject({ code: "INVALID_FIELD" });
  });
});

describe("encodeEvent: round trip through a spec parser", () => {
  const tricky = [
    "",
    " ",
    "  leading",
    "trailing  ",
    " both ",
    "\r",
    "\n",
    "\r\n",
    "a\rb",
    "a\r\n\r\nb",
    "\r\r\n\n",
    "line\u2028separator\u2029para",
    "astral 😀 𝄞 👩‍👩‍👧",
    "data: nested field",
    ":colon",
    "\uFEFFbom",
    "tab\there",
  ];

  /** Normalizes line endings the way the parser must: every CR, LF or CRLF in data comes back as LF. */
  const expectedData = (data: string): string => data.replace(/\r\n|\r/g, "\n");

  const fieldValue = fc.string({ unit: "grapheme", maxLength: 20 }).filter((s) => !/[\r\n\0]/.test(s));
  const dataValue = fc.oneof(
    fc.string({ unit: "grapheme", maxLength: 60 }),
    fc.constantFrom(...tricky),
    fc
      .array(fc.constantFrom("a", " ", "\r", "\n", "\r\n", "😀", "\u2028", ""), { maxLength: 12 })
      .map((parts) => parts.join("")),
  );
  const event = fc.record({ data: dataValue, event: fieldValue, id: fieldValue }, { requiredKeys: ["data"] });

  it("returns every event exactly, whatever the chunk boundaries", () => {
    fc.assert(
      fc.property(
        fc.array(event, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (events, cuts) => {
          const bytes = Buffer.from(events.map((e) => encodeEvent(e)).join(""), "utf8");
          const received = parseInChunks(bytes, cuts);
          expect(received).toHaveLength(events.length);
          received.forEach((got, i) => {
            const sent = events[i] as (typeof events)[number];
            expect(got.data).toBe(expectedData(sent.data));
            // An empty event name means "message"; the parser reports it as undefined.
            expect(got.event).toBe(sent.event === undefined || sent.event === "" ? undefined : sent.event);
            // The parser keeps the last id seen; each of these events sets its own or inherits the previous.
            if (sent.id !== undefined) expect(got.id).toBe(sent.id);
          });
        },
      ),
      { numRuns: 3000 },
    );
  });

  it.each(tricky)("returns %j byte for byte", (data) => {
    const [got] = parseInChunks(Buffer.from(encodeEvent({ data, id: "5-0" })), [1, 2, 3]);
    expect(got?.data).toBe(expectedData(data));
    expect(got?.id).toBe("5-0");
  });
});

/** Feeds `bytes` to eventsource-parser in chunks cut at the given (wrapped) offsets, decoding UTF-8 as a stream. */
function parseInChunks(bytes: Buffer, cuts: number[]): EventSourceMessage[] {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e) });
  const decoder = new TextDecoder();
  const offsets = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % bytes.length)))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...offsets, bytes.length]) {
    parser.feed(decoder.decode(bytes.subarray(from, to), { stream: true }));
    from = to;
  }
  parser.feed(decoder.decode());
  return events;
}
