import { createServer } from "node:http";
import { getRequestListener } from "@hono/node-server";
import compression from "compression";
import express from "express";
import { Hono } from "hono";
import { compress } from "hono/compress";
import { afterEach, describe, expect, it } from "vitest";
import { fromRequest } from "../src/fetch/index.js";
import { Session } from "../src/index.js";
import { connectRaw, type RawClient } from "./helpers/rawClient.js";
import { listen, type TestServer, waitFor } from "./helpers/server.js";

// The rule: an event stream is never compressed. Its `Cache-Control: no-transform` tells every compression layer
// that honours it (Express's compression, Hono's compress, CDNs) to leave it alone, so each event leaves at once; and
// where a layer still wraps the response, event-flare calls its `flush()` after each write.
let server: TestServer | undefined;
const clients: RawClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await server?.close();
  server = undefined;
});

const GZIP = { "accept-encoding": "gzip" };

describe("a client that asks for gzip", () => {
  it("Express + compression(): the stream is not compressed, and each event arrives before the next is sent", async () => {
    const sessions: Session[] = [];
    const app = express();
    app.use(compression({ threshold: 0 }));
    app.get("/events", (req, res) => {
      sessions.push(new Session(req, res));
    });
    app.get("/page", (_req, res) => {
      res.type("text/plain").send("x".repeat(4096));
    });
    server = await listen(createServer(app));

    // The middleware does compress the rest of the app for this client.
    const page = await connectRaw(`${server.url}/page`, GZIP);
    clients.push(page);
    await page.waitForEnd();
    expect(page.headers["content-encoding"]).toBe("gzip");

    const client = await connectRaw(`${server.url}/events`, GZIP);
    clients.push(client);
    expect(client.headers["content-encoding"]).toBeUndefined();
    expect(client.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    await waitFor(() => sessions.length === 1, "the session");
    for (const data of ["one", "two", "three"]) {
      const before = client.events.length;
      const id = sessions[0]?.sendMessage(data);
      // Nothing else is written until this event is read: a gzip buffer holding it would time out here.
      await waitFor(() => client.events.length === before + 1, `event ${data}`);
      expect(client.events.at(-1)).toMatchObject({ id, data });
    }
  });

  it("Hono + compress(): the stream is not compressed either", async () => {
    const app = new Hono();
    app.use(compress());
    app.get("/events", (c) => {
      const { session, response } = fromRequest(c.req.raw);
      session.sendMessage("hello");
      return response;
    });
    app.get("/page", (c) => c.text("y".repeat(4096)));
    server = await listen(createServer(getRequestListener(app.fetch)));

    const page = await fetch(`${server.url}/page`, { headers: GZIP });
    expect(page.headers.get("content-encoding")).toBe("gzip");
    await page.arrayBuffer();

    const client = await connectRaw(`${server.url}/events`, GZIP);
    clients.push(client);
    expect(client.headers["content-encoding"]).toBeUndefined();
    await client.waitForEvents(1);
    expect(client.events[0]?.data).toBe("hello");
  });
});
