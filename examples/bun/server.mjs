// Bun: `bun examples/bun/server.mjs`. Bun.serve hands the handler a Request; `fromRequest` returns the Response.
// Bun closes a connection idle for `idleTimeout` (10 s by default): `server.timeout(request, 0)` lifts it for the
// stream, so the 30 s heartbeat keeps it open through proxies without Bun cutting it first.
import { BroadcastStream } from "event-flare";
import { fromRequest } from "event-flare/fetch";

const PORT = Number(process.env.PORT ?? 3007);
const ticks = new BroadcastStream("ticks");
let n = 0;
setInterval(() => ticks.broadcastAll({ n: ++n, at: new Date().toISOString() }, "tick"), 1000);

const server = Bun.serve({
  port: PORT,
  hostname: "127.0.0.1",
  fetch(request, server) {
    if (new URL(request.url).pathname !== "/events") return new Response("Not found", { status: 404 });
    server.timeout(request, 0);
    const { session, response } = fromRequest(request);
    ticks.register(session);
    return response;
  },
});
console.log(`listening on http://127.0.0.1:${server.port}`);
