import { createServer } from "node:http";
import { PassThrough } from "node:stream";
import { EventSource } from "eventsource";
import express from "express";
import Koa from "koa";
import { afterEach, describe, expect, it } from "vitest";
import { Session } from "../src/index.js";
import { connectRaw, type RawClient } from "./helpers/rawClient.js";
import { listen, startServer, type TestServer } from "./helpers/server.js";

let server: TestServer | undefined;
const closers: (() => void)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await server?.close();
  server = undefined;
});

const dataToSend = { stockName: "AAPL", currentStockPrice: "245.65" };

/** Each framework, set up exactly as the seed README shows it. */
const frameworks: Record<string, () => Promise<TestServer>> = {
  "node:http": () =>
    startServer((req, res) => {
      const session = new Session(req, res);
      session.sendMessage(JSON.stringify(dataToSend));
    }),
  "Express 5": () => {
    const app = express();
    app.get("/", (req, res) => {
      const session = new Session(req, res);
      session.sendMessage(JSON.stringify(dataToSend));
    });
    return listen(createServer(app));
  },
  "Koa 3": () => {
    const app = new Koa();
    app.use(async (ctx) => {
      const req = ctx.req;
      const res = ctx.res;
      ctx.respond = false;
      const stream = new PassThrough();
      ctx.body = stream;
      const session = new Session(req, res);
      session.sendMessage(JSON.stringify(dataToSend));
    });
    return listen(createServer(app.callback()));
  },
};

describe.each(Object.keys(frameworks))("%s", (name) => {
  it("streams the seed snippet's event with SSE headers, exactly", async () => {
    server = await (frameworks[name] as () => Promise<TestServer>)();
    const client: RawClient = await connectRaw(`${server.url}/`);
    closers.push(() => client.destroy());
    const [event] = await client.waitForEvents(1);
    expect(client.status).toBe(200);
    expect(client.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    expect(client.headers["cache-control"]).toBe("no-cache, no-transform");
    expect(client.text()).toBe(`retry: 1000\n\nid: ${event?.id}\ndata: ${JSON.stringify(dataToSend)}\n\n`);
  });

  it("works with the real eventsource client", async () => {
    server = await (frameworks[name] as () => Promise<TestServer>)();
    const source = new EventSource(`${server.url}/`);
    closers.push(() => source.close());
    const event = await new Promise<MessageEvent>((resolve, reject) => {
      source.onmessage = resolve;
      source.onerror = reject;
    });
    expect(JSON.parse(event.data)).toEqual(dataToSend);
    expect(event.lastEventId).toMatch(/^\d+-\d+$/);
  });
});
