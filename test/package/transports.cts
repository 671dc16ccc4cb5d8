// The CommonJS side of transports.mts: event-flare/fetch, event-flare/http2 and event-flare/fastify as a CommonJS
// consumer of the installed tarball sees them.
import type http2 = require("node:http2");
import eventFlare = require("event-flare");
import fastifyPlugin = require("event-flare/fastify");
import fetchAdapter = require("event-flare/fetch");
import http2Adapter = require("event-flare/http2");
import Fastify = require("fastify");

type Events = { price: { symbol: string; value: number } };
const channel = new eventFlare.BroadcastStream<Events>("prices");

export function GET(request: Request): Response {
  const exchange: fetchAdapter.EventStreamExchange<Events> = fetchAdapter.fromRequest<Events>(request);
  // @ts-expect-error "volume" is not in the event map
  exchange.session.sendMessage({ symbol: "AAPL", value: 1 }, "volume");
  channel.register(exchange.session);
  return exchange.response;
}

export function onStream(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
): eventFlare.Session<Events> {
  return http2Adapter.fromHttp2Stream<Events>(stream, headers);
}

export async function fastifyApp() {
  const app = Fastify();
  await app.register(fastifyPlugin.eventFlare);
  app.get("/events", (_request, reply) => {
    channel.register(reply.sse<Events>());
  });
  return app;
}
