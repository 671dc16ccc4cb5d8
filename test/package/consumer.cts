// A CommonJS consumer of the installed tarball, type-checked like consumer.mts (see package.test.ts).
import http = require("node:http");
import eventFlare = require("event-flare");
import rxjs = require("rxjs");

type Events = { price: { symbol: string; price: number } };

const options: eventFlare.SessionOptions = { heartbeatInterval: 20000 };
const channel = new eventFlare.BroadcastStream<Events>("prices");

export function handle(req: http.IncomingMessage, res: http.ServerResponse): eventFlare.Session<Events> {
  const session = new eventFlare.Session<Events>(req, res, options);
  session.sendMessage({ symbol: "AAPL", price: 1 }, "price");
  // @ts-expect-error "volume" is not in the event map
  session.sendMessage({ symbol: "AAPL", price: 1 }, "volume");
  channel.register(session);
  channel.broadcastAll({ symbol: "AAPL", price: 2 }, "price");
  return session;
}

export function isClosed(error: unknown): boolean {
  return eventFlare.isEventFlareError(error, "SESSION_CLOSED") || error instanceof eventFlare.EventFlareError;
}

export const codes: readonly eventFlare.EventFlareErrorCode[] = eventFlare.EVENT_FLARE_ERROR_CODES;

// The channel is an interop observable in the published types too.
export const events$: rxjs.Observable<eventFlare.ChannelEvent> = rxjs.from(channel);
