import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { History } from "../src/history/History.js";
import { EventIdGenerator, formatEventId, parseEventId } from "../src/ids.js";
import { readLastEventId, Session } from "../src/index.js";
import { errorOf } from "./helpers/errors.js";
import { connectRaw } from "./helpers/rawClient.js";
import { listen, type TestServer } from "./helpers/server.js";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A server whose handler is `handler`; resolves with what a request to it produced. */
async function exchange(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  let caught: unknown;
  server = await listen(
    createServer((req, res) => {
      try {
        handler(req, res);
      } catch (error) {
        caught = error;
        if (!res.writableEnded) res.end();
      }
    }),
  );
  const client = await connectRaw(`${server.url}/`);
  await client.waitForEnd(2000).catch(() => {});
  return { caught, client };
}

describe("responses that cannot carry a stream", () => {
  it("a response that has already ended: INVALID_ARGUMENT, nothing written", async () => {
    const { caught } = await exchange((req, res) => {
      res.end("done");
      new Session(req, res);
    });
    expect(caught).toMatchObject({ code: "INVALID_ARGUMENT", field: "res" });
  });

  it("headers already sent for something else: INVALID_ARGUMENT naming the Content-Type", async () => {
    const { caught, client } = await exchange((req, res) => {
      res.writeHead(200, { "Content-Type": "text/html" });
      res.write("<p>");
      new Session(req, res);
    });
    expect(caught).toMatchObject({ code: "INVALID_ARGUMENT" });
    expect((caught as Error).message).toContain('"text/html"');
    expect(client.text()).toBe("<p>");
  });

  it("headers the application sent itself for text/event-stream are kept, and the stream works", async () => {
    let session: Session | undefined;
    server = await listen(
      createServer((req, res) => {
        res.writeHead(200, { "Content-Type": "text/event-stream", "X-Custom": "kept" });
        session = new Session(req, res);
      }),
    );
    const client = await connectRaw(`${server.url}/`);
    const id = session?.sendMessage("hello");
    await client.waitForEvents(1);
    expect(client.headers["x-custom"]).toBe("kept");
    expect(client.events).toEqual([{ id, event: undefined, data: "hello" }]);
    session?.close();
  });

  it("a request without Accept: text/event-stream still gets the stream (the application chose to open it)", async () => {
    let session: Session | undefined;
    server = await listen(createServer((req, res) => (session = new Session(req, res))));
    const { request } = await import("node:http");
    const body = await new Promise<string>((resolve) => {
      request(`${server?.url}/`, (res) => {
        let text = "";
        res.on("data", (chunk) => {
          text += chunk;
          if (text.includes("data: x")) resolve(`${res.headers["content-type"]}|${text}`);
        });
      }).end();
      setTimeout(() => session?.sendMessage("x"), 50);
    });
    expect(body.startsWith("text/event-stream; charset=utf-8|retry: 1000\n\n")).toBe(true);
    session?.close();
  });
});

describe("hostile Last-Event-ID values cost a bounded lookup", () => {
  it("any header value: the id read is at most 1 KiB, parsing looks at most 40 characters, and replay agrees with a model", () => {
    let clock = 1_000_000;
    const ids = new EventIdGenerator(() => clock);
    const history = new History(50, { ids });
    const issued: string[] = [];
    for (let i = 0; i < 80; i++) {
      clock += i % 3 === 0 ? 1 : 0;
      const id = ids.next();
      history.append(id, Buffer.from(`e${i}`));
      issued.push(formatEventId(id));
    }
    const candidate = fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 200 }),
      fc.string({ unit: "binary", maxLength: 3000 }),
      fc.constantFrom(...issued),
      fc.tuple(fc.nat(), fc.nat()).map(([ms, seq]) => `${ms}-${seq}`),
      fc.integer({ min: 1, max: 200_000 }).map((n) => "9".repeat(n)),
      fc.integer({ min: 1, max: 50_000 }).map((n) => `${"1".repeat(n)}-${"2".repeat(n)}`),
    );
    fc.assert(
      fc.property(candidate, (value) => {
        const read = readLastEventId({ headers: { "last-event-id": value } });
        if (value === "") return read === undefined;
        if (read === undefined || read.length > 1024) return false;
        // The parser rejects anything longer than an id can be before running its pattern.
        if (read.length > 40 && parseEventId(read) !== undefined) return false;
        const result = history.after(read);
        const parsed = parseEventId(read);
        if (parsed === undefined) return !result.ok && result.reason === "malformed";
        const index = issued.indexOf(read);
        if (index >= 30) return result.ok && result.entries.length === 79 - index;
        return true;
      }),
      { numRuns: 2000 },
    );
  });

  it("a query-string id of hundreds of kilobytes is cut, not parsed whole", () => {
    const huge = "1".repeat(500_000);
    const read = readLastEventId({ headers: {}, url: `/?lastEventId=${huge}` });
    expect(read?.length).toBeLessThanOrEqual(1024);
    expect(errorOf(() => new Session({ headers: {} } as never, {} as never)).code).toBe("INVALID_ARGUMENT");
  });
});
