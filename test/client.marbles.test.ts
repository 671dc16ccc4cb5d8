import { filter, type Observable, share } from "rxjs";
import { TestScheduler } from "rxjs/testing";
import { beforeEach, describe, expect, it } from "vitest";
import { type ClientNotification, fromEventSource } from "../src/client/index.js";
import { EventFlareError } from "../src/index.js";
import { errorOf } from "./helpers/errors.js";
import { ScriptedEventSource } from "./helpers/scriptedEventSource.js";

// fromEventSource frame by frame: a hot marble scripts what the EventSource does (open, messages, drops, refusals)
// and expectObservable checks what the application receives.
type Ticker = { price: { symbol: string; value: number }; halt: { symbol: string }; note: string };
type Step = (source: ScriptedEventSource) => void;

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const open: Step = (s) => s.open();
const msg =
  (event: string, data: string, id: string): Step =>
  (s) =>
    s.message(event, data, id);

beforeEach(() => {
  ScriptedEventSource.instances.length = 0;
});

/** Plays `steps` on every ScriptedEventSource still open (one per subscription) at the frames of `marbles`. */
function play(
  hot: (marbles: string, values: Record<string, Step>) => Observable<Step>,
  marbles: string,
  steps: Record<string, Step>,
) {
  hot(marbles, steps).subscribe((step) => {
    for (const source of ScriptedEventSource.instances.filter((s) => !s.closed)) step(source);
  });
}

const ticker = () =>
  fromEventSource<Ticker>("http://example.test/prices", {
    events: ["price", "halt", "note"],
    raw: ["note"],
    EventSource: ScriptedEventSource,
  });

describe("fromEventSource (marbles)", () => {
  it("maps events to typed messages: JSON data, the event name, the id; raw events keep their text", () => {
    scheduler().run(({ hot, expectObservable }) => {
      play(hot, "-o-a-b-c", {
        o: open,
        a: msg("price", '{"symbol":"AAPL","value":1}', "1-0"),
        b: msg("halt", '{"symbol":"AAPL"}', "2-0"),
        c: msg("note", "market closes early", "3-0"),
      });
      expectObservable(ticker()).toBe("-o-a-b-c", {
        o: { type: "connection", state: "open" },
        a: { type: "message", event: "price", data: { symbol: "AAPL", value: 1 }, id: "1-0" },
        b: { type: "message", event: "halt", data: { symbol: "AAPL" }, id: "2-0" },
        c: { type: "message", event: "note", data: "market closes early", id: "3-0" },
      });
    });
  });

  it("receives only the listed events; an unlisted name is ignored; the default is unnamed events", () => {
    scheduler().run(({ hot, expectObservable }) => {
      play(hot, "-a-b-c", {
        a: msg("price", "1", "1-0"),
        b: msg("volume", "2", "2-0"),
        c: msg("message", "3", "3-0"),
      });
      const onlyPrice = fromEventSource("http://x.test/", { events: ["price"], EventSource: ScriptedEventSource });
      const byDefault = fromEventSource("http://x.test/", { EventSource: ScriptedEventSource });
      expectObservable(onlyPrice).toBe("-a----", { a: { type: "message", event: "price", data: 1, id: "1-0" } });
      expectObservable(byDefault).toBe("-----c", { c: { type: "message", event: "message", data: 3, id: "3-0" } });
    });
  });

  it("turns data that is not JSON into an invalid-data notice naming the event id, and goes on", () => {
    scheduler().run(({ hot, expectObservable }) => {
      play(hot, "-a-b", { a: msg("price", "not json", "7-0"), b: msg("price", '{"symbol":"X","value":2}', "8-0") });
      const notes = ticker().pipe(filter((n) => n.type !== "connection"));
      expectObservable(notes.pipe(filter((n) => n.type === "message"))).toBe("---b", {
        b: { type: "message", event: "price", data: { symbol: "X", value: 2 }, id: "8-0" },
      });
      expectObservable(notes.pipe(filter((n) => n.type === "invalid-data"))).toBe("-a--", {
        a: expect.objectContaining({ type: "invalid-data", event: "price", id: "7-0", data: "not json" }),
      });
    });
    const notice = invalidNotice();
    expect(notice.error).toBeInstanceOf(EventFlareError);
    expect(notice.error.code).toBe("CLIENT_INVALID_DATA");
    expect(notice.error.message).toContain("7-0");
  });

  it("delivers history-gap as a typed notice, never as a message, and the stream goes on", () => {
    scheduler().run(({ hot, expectObservable }) => {
      play(hot, "-o-g-a", {
        o: open,
        g: msg("history-gap", '{"source":"channel:prices","reason":"too-old"}', "5-0"),
        a: msg("price", '{"symbol":"A","value":3}', "9-0"),
      });
      expectObservable(ticker()).toBe("-o-g-a", {
        o: { type: "connection", state: "open" },
        g: { type: "history-gap", source: "channel:prices", reason: "too-old", lastEventId: "5-0" },
        a: { type: "message", event: "price", data: { symbol: "A", value: 3 }, id: "9-0" },
      });
    });
  });

  it("reports a drop as reconnecting, then open again, without completing or erroring", () => {
    scheduler().run(({ hot, expectObservable }) => {
      play(hot, "-o-d-o-a", { o: open, d: (s) => s.drop(), a: msg("halt", '{"symbol":"Z"}', "4-0") });
      expectObservable(ticker()).toBe("-o-d-o-a", {
        o: { type: "connection", state: "open" },
        d: { type: "connection", state: "reconnecting" },
        a: { type: "message", event: "halt", data: { symbol: "Z" }, id: "4-0" },
      });
    });
    expect(ScriptedEventSource.last.closed).toBe(false);
  });

  it("errors with a typed error and closes the EventSource when it gives up: refused, unreachable, replaced", () => {
    const cases: [Step, string][] = [
      [(s) => s.refuse({ code: 401, message: "Non-200 status code (401)" }), "CLIENT_HTTP_STATUS"],
      [(s) => s.refuse({ status: 204 }), "CLIENT_STOPPED"],
      [
        (s) => s.refuse({ code: 200, message: 'Invalid content type, expected "text/event-stream"' }),
        "CLIENT_CONTENT_TYPE",
      ],
      [(s) => s.drop(), "CLIENT_UNREACHABLE"], // an error before the first open
      [(s) => s.message("session-replaced", '{"reason":"replaced"}', ""), "CLIENT_STOPPED"],
    ];
    for (const [step, code] of cases) {
      scheduler().run(({ hot, expectObservable }) => {
        play(hot, "--x", { x: step });
        expectObservable(ticker()).toBe("--#", undefined, expect.objectContaining({ code }));
      });
      expect(ScriptedEventSource.last.closed, code).toBe(true);
      expect(ScriptedEventSource.last.listenerCount(), code).toBe(0);
    }
  });

  it("closes the EventSource and removes its listeners on unsubscribe; share() opens one for many subscribers", () => {
    scheduler().run(({ hot, expectObservable }) => {
      play(hot, "-o-a-b", {
        o: open,
        a: msg("halt", '{"symbol":"A"}', "1-0"),
        b: msg("halt", '{"symbol":"B"}', "2-0"),
      });
      const shared = ticker().pipe(share());
      expectObservable(shared, "^--!").toBe("-o-", { o: { type: "connection", state: "open" } });
      expectObservable(shared, "^----!").toBe("-o-a-", {
        o: { type: "connection", state: "open" },
        a: { type: "message", event: "halt", data: { symbol: "A" }, id: "1-0" },
      });
    });
    expect(ScriptedEventSource.instances).toHaveLength(1);
    expect(ScriptedEventSource.last.closed).toBe(true);
    expect(ScriptedEventSource.last.listenerCount()).toBe(0);
  });

  it("passes withCredentials to the EventSource and rejects bad options at the call", () => {
    fromEventSource("http://x.test/", { withCredentials: true, EventSource: ScriptedEventSource })
      .subscribe()
      .unsubscribe();
    expect(ScriptedEventSource.last.init).toEqual({ withCredentials: true });
    const bad = (options: object) => errorOf(() => fromEventSource("http://x.test/", options as never));
    expect(bad({ EventSource: ScriptedEventSource, events: ["open"] }).code).toBe("INVALID_OPTION");
    expect(bad({ EventSource: ScriptedEventSource, events: ["history-gap"] }).field).toBe("events");
    expect(bad({ EventSource: ScriptedEventSource, events: "price" }).field).toBe("events");
    expect(bad({ EventSource: ScriptedEventSource, raw: "yes" }).field).toBe("raw");
    expect(bad({ EventSource: ScriptedEventSource, withCredentials: 1 }).field).toBe("withCredentials");
    expect(bad({ EventSource: ScriptedEventSource, evnts: [] }).message).toContain('unknown option "evnts"');
    // Node 20 has no global EventSource: the error says what to pass.
    expect(bad({}).message).toContain('import { EventSource } from "eventsource"');
  });
});

/** One invalid-data notice, read synchronously from a scripted source. */
function invalidNotice(): Extract<ClientNotification, { type: "invalid-data" }> {
  const notes: ClientNotification[] = [];
  const subscription = fromEventSource("http://x.test/", { EventSource: ScriptedEventSource }).subscribe((n) =>
    notes.push(n),
  );
  ScriptedEventSource.last.message("message", "{oops", "7-0");
  subscription.unsubscribe();
  const [notice] = notes;
  if (notice?.type !== "invalid-data") throw new Error(`expected an invalid-data notice, got ${JSON.stringify(notes)}`);
  return notice;
}
