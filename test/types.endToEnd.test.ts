import { type Observable, of, type Subject } from "rxjs";
import { describe, expect, expectTypeOf, it } from "vitest";
import {
  type ClientEventMap,
  type ClientGapReason,
  type ClientMessage,
  type ClientNotification,
  fromEventSource,
} from "../src/client/index.js";
import { BroadcastStream, type EventMap, type HistoryGapReason, type OutgoingEvent, Session } from "../src/index.js";
import type { RedisBackplane } from "../src/redis/index.js";

// One event map types every part, server and client: `npm test` type-checks this file with tsc, so each
// expect-error comment fails the run if the call it marks ever compiles. The runtime part only proves it loads.
type Ticker = { price: { symbol: string; value: number }; halt: { symbol: string } };
type Price = Ticker["price"];

// Never called: these functions exist to be type-checked.
function server(
  session: Session<Ticker>,
  channel: BroadcastStream<Ticker>,
  prices$: Observable<Price>,
  counts$: Observable<number>,
) {
  session.sendMessage({ symbol: "AAPL", value: 1 }, "price");
  // @ts-expect-error a wrong event name
  session.sendMessage({ symbol: "AAPL", value: 1 }, "volume");
  // @ts-expect-error a wrong payload for the name
  session.sendMessage({ symbol: "AAPL" }, "price");
  session.inbound.next({ data: { symbol: "AAPL" }, event: "halt" });
  // @ts-expect-error inbound checks the pair too
  session.inbound.next({ data: { symbol: "AAPL" }, event: "price" });
  session.pipeFrom(prices$, "price");
  // @ts-expect-error numbers are not halts
  session.pipeFrom(counts$, "halt");

  channel.broadcastAll({ symbol: "AAPL", value: 2 }, "price");
  // @ts-expect-error a wrong payload
  channel.broadcastAll("245.65", "price");
  channel.broadcastSome({ symbol: "AAPL" }, [session], "halt");
  // @ts-expect-error a wrong event name
  channel.broadcastSome({ symbol: "AAPL" }, [session], "halted");
  channel.broadcastFrom(prices$, "price");
  // @ts-expect-error a source of numbers cannot feed prices
  channel.broadcastFrom(counts$, "price");
  channel.register(session);
}

function client() {
  const ticker$ = fromEventSource<Ticker>("/prices", { events: ["price", "halt"] });
  expectTypeOf(ticker$).toEqualTypeOf<Observable<ClientNotification<Ticker>>>();
  ticker$.subscribe((note) => {
    if (note.type === "message" && note.event === "price") expectTypeOf(note.data).toEqualTypeOf<Price>();
    if (note.type === "message" && note.event === "halt") expectTypeOf(note.data).toEqualTypeOf<{ symbol: string }>();
    if (note.type === "history-gap") expectTypeOf(note.reason).toEqualTypeOf<ClientGapReason>();
  });
  // @ts-expect-error an event name that is not in the map
  fromEventSource<Ticker>("/prices", { events: ["volume"] });
  // @ts-expect-error a typed map needs the names to listen to
  fromEventSource<Ticker>("/prices");
  // @ts-expect-error only events whose data is a string may be raw by name
  fromEventSource<Ticker>("/prices", { events: ["price"], raw: ["price"] });
  const raw$ = fromEventSource<Ticker>("/prices", { events: ["price"], raw: true });
  expectTypeOf(raw$).toEqualTypeOf<Observable<ClientNotification<{ price: string; halt: string }>>>();
}

/** The seed's untyped calls, unchanged. */
function untyped(req: ConstructorParameters<typeof Session>[0], res: ConstructorParameters<typeof Session>[1]) {
  const session = new Session(req, res);
  session.sendMessage(JSON.stringify({ stockName: "AAPL", currentStockPrice: "245.65" }));
  session.sendMessage("mock data", "AAPL-stock-price");
  const broadcastStream = new BroadcastStream("AAPL-subscribers");
  broadcastStream.register(session);
  broadcastStream.broadcastAll(JSON.stringify({ a: 1 }));
  broadcastStream.broadcastSome(JSON.stringify({ a: 1 }), [session]);
  broadcastStream.deregister(session.getSessionId());
  const any$ = fromEventSource("/events");
  expectTypeOf(any$).toEqualTypeOf<Observable<ClientNotification>>();
  any$.subscribe((note) => {
    if (note.type === "message") expectTypeOf(note.data).toBeUnknown();
  });
}

function onABackplane(channel: BroadcastStream<Ticker, RedisBackplane>, session: Session<Ticker, RedisBackplane>) {
  expectTypeOf(channel.broadcastAll({ symbol: "A", value: 1 }, "price")).toEqualTypeOf<Promise<string>>();
  expectTypeOf(session.sendMessage({ symbol: "A" }, "halt")).toEqualTypeOf<Promise<string>>();
  // @ts-expect-error the map holds on a backplane too
  channel.broadcastAll({ symbol: "A" }, "price");
}

describe("one event map, both ends", () => {
  it("the client restates the server's shared types exactly", () => {
    expectTypeOf<ClientEventMap>().toEqualTypeOf<EventMap>();
    expectTypeOf<ClientGapReason>().toEqualTypeOf<HistoryGapReason>();
    expectTypeOf<ClientMessage<Ticker>>().toEqualTypeOf<
      | { readonly type: "message"; readonly event: "price"; readonly data: Price; readonly id: string }
      | { readonly type: "message"; readonly event: "halt"; readonly data: { symbol: string }; readonly id: string }
    >();
    expectTypeOf<Session<Ticker>["inbound"]>().toEqualTypeOf<Subject<OutgoingEvent<Ticker>>>();
  });

  it("the checked functions load", () => {
    for (const fn of [server, client, untyped, onABackplane]) expect(fn).toBeTypeOf("function");
    expect(of(1)).toBeDefined();
  });
});
