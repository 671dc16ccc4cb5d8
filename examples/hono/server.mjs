// Hono on Node (@hono/node-server): `fromRequest` turns the Request into a session and the Response to return.
// A ticker channel broadcasts every second; a client that reconnects with Last-Event-ID replays what it missed.
import { serve } from "@hono/node-server";
import { BroadcastStream } from "event-flare";
import { fromRequest } from "event-flare/fetch";
import { Hono } from "hono";

const PORT = Number(process.env.PORT ?? 3005);
const ticks = new BroadcastStream("ticks");
let n = 0;
setInterval(() => ticks.broadcastAll({ n: ++n, at: new Date().toISOString() }, "tick"), 1000).unref();

const app = new Hono();
app.get("/events", (c) => {
  const { session, response } = fromRequest(c.req.raw);
  ticks.register(session);
  return response;
});

const server = serve({ fetch: app.fetch, port: PORT, hostname: "127.0.0.1" }, (info) => {
  console.log(`listening on http://127.0.0.1:${info.port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
