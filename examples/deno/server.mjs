// Deno: `deno run --allow-net --allow-env examples/deno/server.mjs` from a project with event-flare and rxjs in
// node_modules (or import "npm:event-flare"). Deno.serve hands the handler a Request; `fromRequest` returns the
// Response, and the request's signal closes the session when the client leaves.
import { BroadcastStream } from "event-flare";
import { fromRequest } from "event-flare/fetch";

const PORT = Number(Deno.env.get("PORT") ?? 3008);
const ticks = new BroadcastStream("ticks");
let n = 0;
setInterval(() => ticks.broadcastAll({ n: ++n, at: new Date().toISOString() }, "tick"), 1000);

Deno.serve(
  { port: PORT, hostname: "127.0.0.1", onListen: ({ port }) => console.log(`listening on http://127.0.0.1:${port}`) },
  (request) => {
    if (new URL(request.url).pathname !== "/events") return new Response("Not found", { status: 404 });
    const { session, response } = fromRequest(request);
    ticks.register(session);
    return response;
  },
);
