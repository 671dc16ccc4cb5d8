// Fastify 5: register the plugin once, then `reply.sse()` in any route. Hooks run first: this one rejects a request
// without a token before any SSE header is sent (open /events?token=demo).
import { BroadcastStream } from "event-flare";
import { eventFlare } from "event-flare/fastify";
import Fastify from "fastify";

const PORT = Number(process.env.PORT ?? 3006);
const ticks = new BroadcastStream("ticks");
let n = 0;
setInterval(() => ticks.broadcastAll({ n: ++n, at: new Date().toISOString() }, "tick"), 1000).unref();

const app = Fastify({ logger: { level: "warn" } });
await app.register(eventFlare);
app.addHook("onRequest", async (request, reply) => {
  if (request.query.token !== "demo") return reply.code(401).send({ error: "add ?token=demo" });
});
app.get("/events", (request, reply) => {
  const session = reply.sse({ retryInterval: 2000 });
  ticks.register(session);
  request.log.info({ sessionId: session.getSessionId() }, "stream opened");
});

await app.listen({ port: PORT, host: "127.0.0.1" });
console.log(`listening on http://127.0.0.1:${app.server.address().port}`);
process.on("SIGTERM", () => app.close().then(() => process.exit(0)));
