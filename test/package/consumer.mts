// An ES module consumer of the installed tarball. package.test.ts type-checks it with `tsc --strict` and no
// skipLibCheck, so the shipped .d.ts files are checked too. The @ts-expect-error lines fail if a type degrades to any.
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  BroadcastStream,
  type ChannelEvent,
  EVENT_FLARE_ERROR_CODES,
  EventFlareError,
  type EventFlareErrorCode,
  isEventFlareError,
  type OutgoingEvent,
  Session,
  type SessionClosedEvent,
  type SessionOptions,
} from "event-flare";
import { from, interval, map, merge, type Observable, of, type Subscription } from "rxjs";

interface Price {
  symbol: string;
  price: number;
}
type Events = { price: Price; note: string };

const options: SessionOptions = { heartbeatInterval: 20000, retryInterval: 2000, historySize: 500, sessionId: "x" };
// @ts-expect-error unknown option names are rejected
const typo: SessionOptions = { heartbeatIntervall: 1 };

export const channel = new BroadcastStream<Events>("prices", { historySize: 10 });

export function handle(req: IncomingMessage, res: ServerResponse): string {
  const session = new Session<Events>(req, res, options);
  const id: string = session.sendMessage({ symbol: "AAPL", price: 245.65 }, "price");
  // @ts-expect-error a string is not a Price
  session.sendMessage("245.65", "price");
  // @ts-expect-error "volume" is not in the event map
  session.sendMessage({ symbol: "AAPL", price: 1 }, "volume");
  const next: OutgoingEvent<Events> = { data: "hi", event: "note" };
  session.inbound.next(next);
  session.pipeFrom(interval(1000).pipe(map((n): Price => ({ symbol: "AAPL", price: n }))), "price");
  const membership: Subscription = channel.register(session);
  channel.broadcastAll({ symbol: "AAPL", price: 2 }, "price");
  channel.broadcastSome("to x", (member) => member.getSessionId() === "x", "note");
  // @ts-expect-error a Price is not a note
  channel.broadcastAll({ symbol: "AAPL", price: 2 }, "note");
  session.closed$.subscribe(({ reason }: SessionClosedEvent) => console.log(reason, membership.closed));
  session.on("history-gap", (event) => console.log(event.lastEventId, event.reason));
  channel.subscribe((event: ChannelEvent) => console.log(event.id, event.targets));
  return id;
}

export function codeOf(error: unknown): EventFlareErrorCode | undefined {
  if (isEventFlareError(error, "CHANNEL_CLOSED")) return error.code;
  return error instanceof EventFlareError ? error.code : undefined;
}

export const codes: readonly EventFlareErrorCode[] = EVENT_FLARE_ERROR_CODES;
// @ts-expect-error not an error code
export const notACode: EventFlareErrorCode = "NOT_A_CODE";
export const unused = typo;
// The channel is an interop observable in the published types too.
export const events$: Observable<ChannelEvent> = from(channel);
export const merged$: Observable<ChannelEvent | number> = merge(channel, of(1));
