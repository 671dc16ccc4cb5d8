// Next.js App Router: put this file at app/events/route.js (or route.ts) of your app. The route handler gets a
// Request and returns the Response of `fromRequest`; the request's signal closes the session when the client leaves.
// Module state (the channel) lives as long as the server process.
import { BroadcastStream } from "event-flare";
import { fromRequest } from "event-flare/fetch";

// Never cache or prerender an event stream; it needs Node's runtime (not the Edge runtime).
export const dynamic = "force-dynamic";
export const runtime = "nodejs";

const ticks = new BroadcastStream("ticks");
let n = 0;
setInterval(() => ticks.broadcastAll({ n: ++n, at: new Date().toISOString() }, "tick"), 1000).unref();

export async function GET(request) {
  const { session, response } = fromRequest(request);
  ticks.register(session);
  return response;
}
