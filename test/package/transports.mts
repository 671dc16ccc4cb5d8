// The transport subpaths as a consumer of the installed tarball sees them (type-checked by package.test.ts with
// --strict and no skipLibCheck): event-flare/fetch, event-flare/http2 and event-flare/fastify with Fastify 5.
import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { BroadcastStream, type Session } from "event-flare";
import { eventFlare } from "event-flare/fastify";
import { type EventStreamExchange, fromRequest } from "event-flare/fetch";
import { fromHttp2Stream } from "event-flare/http2";
import Fastify from "fastify";

type Events = { price: { symbol: string; value: number } };
const channel = new BroadcastStream<Events>("prices");

export async function GET(request: Request): Promise<Response> {
  const exchange: EventStreamExchange<Events> = fromRequest<Events>(request, { heartbeatInterval: 20000 });
  const id: string = exchange.session.sendMessage({ symbol: "AAPL", value: 1 }, "price");
  // @ts-expect-error "volume" is not in the event map
  exchange.session.sendMessage({ symbol: "AAPL", value: 1 }, "volume");
  channel.register(exchange.session);
  console.log(id);
  return exchange.response;
}

export function onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Session<Events> {
  return fromHttp2Stream<Events>(stream, headers);
}

export async function fastifyApp() {
  const app = Fastify();
  await app.register(eventFlare);
  app.get("/events", (_request, reply) => {
    const session = reply.sse<Events>({ retryInterval: 2000 });
    channel.register(session);
    // @ts-expect-error a string is not a price
    session.sendMessage("1", "price");
  });
  return app;
}
