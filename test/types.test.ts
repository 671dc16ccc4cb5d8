import { from, merge, type Observable, of, type Subject, type Subscription } from "rxjs";
import { describe, expect, expectTypeOf, it } from "vitest";
import {
  BroadcastStream,
  type ChannelEvent,
  type ConnectionState,
  type EventFlareErrorCode,
  type HistoryGapEvent,
  type MessageSentEvent,
  type OutgoingEvent,
  type Session,
  type SessionClosedEvent,
  type SessionLifecycleEvent,
} from "../src/index.js";

// Compile-time checks: `npm test` type-checks this file with tsc; the runtime part only proves it loads.
interface Price {
  symbol: string;
  price: number;
}

describe("public types", () => {
  it("keeps the seed API shape", () => {
    expectTypeOf<Session["sendMessage"]>().toBeCallableWith("text");
    expectTypeOf<Session["sendMessage"]>().toBeCallableWith("text", "event-name");
    expectTypeOf<ReturnType<Session["getConnectionState"]>>().toEqualTypeOf<ConnectionState>();
    expectTypeOf<ConnectionState>().toEqualTypeOf<"CONNECTED" | "DISCONNECTED">();
    expectTypeOf<ReturnType<Session["getSessionId"]>>().toEqualTypeOf<string>();
  });

  it("types a session by its event map", () => {
    type PriceSession = Session<{ price: Price }>;
    expectTypeOf<PriceSession["sendMessage"]>().toBeCallableWith({ symbol: "AAPL", price: 1 }, "price");
    // @ts-expect-error a string is not a Price
    expectTypeOf<PriceSession["sendMessage"]>().toBeCallableWith("not a price", "price");
    // @ts-expect-error "volume" is not in the map
    expectTypeOf<PriceSession["sendMessage"]>().toBeCallableWith({ symbol: "AAPL", price: 1 }, "volume");
    expectTypeOf<OutgoingEvent<{ price: Price }>>().toEqualTypeOf<{
      readonly data: Price;
      readonly event?: "price" | undefined;
    }>();
  });

  it("exposes subjects and observables", () => {
    expectTypeOf<Session["inbound"]>().toEqualTypeOf<Subject<OutgoingEvent>>();
    expectTypeOf<Session["state$"]>().toEqualTypeOf<Observable<ConnectionState>>();
    expectTypeOf<Session["closed$"]>().toEqualTypeOf<Observable<SessionClosedEvent>>();
    expectTypeOf<Session["lifecycle$"]>().toEqualTypeOf<Observable<SessionLifecycleEvent>>();
    expectTypeOf<ReturnType<Session["pipeFrom"]>>().toEqualTypeOf<Subscription>();
  });

  it("types lifecycle listeners by event name", () => {
    const listen = (session: Session) => {
      session.on("message-sent", (event) => expectTypeOf(event).toEqualTypeOf<MessageSentEvent>());
      session.on("history-gap", (event) => expectTypeOf(event).toEqualTypeOf<HistoryGapEvent>());
      session.on("session-closed", (event) => expectTypeOf(event.reason).toBeString());
    };
    expectTypeOf(listen).toBeFunction();
    expectTypeOf<"SESSION_CLOSED">().toExtend<EventFlareErrorCode>();
  });
});

describe("channels and typed sessions", () => {
  it("registers a typed session in an untyped channel, and only matching sessions in a typed one", () => {
    const register = (typed: Session<{ price: Price }>, other: Session<{ volume: number }>) => {
      new BroadcastStream("x").register(typed);
      new BroadcastStream("y").register(other);
      new BroadcastStream<{ price: Price }>("z").register(typed);
      // @ts-expect-error a channel of prices cannot take a session of volumes
      new BroadcastStream<{ price: Price }>("z").register(other);
    };
    expectTypeOf(register).toBeFunction();
  });

  it("is an interop observable: from(channel) and merge(channel, …) type-check and run", () => {
    const channel = new BroadcastStream("interop");
    expectTypeOf(from(channel)).toEqualTypeOf<Observable<ChannelEvent>>();
    expectTypeOf(merge(channel, of(1))).toEqualTypeOf<Observable<ChannelEvent | number>>();
    const seen: unknown[] = [];
    const subscription = merge(from(channel), of("start")).subscribe((value) => seen.push(value));
    const id = channel.broadcastAll("live");
    subscription.unsubscribe();
    expect(seen).toEqual(["start", { channelId: "interop", id, event: undefined, data: "live", targets: undefined }]);
  });
});
