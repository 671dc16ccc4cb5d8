// A CommonJS consumer of event-flare/client (for example a test runner or an Electron main process), type-checked
// like client.mts.
import client = require("event-flare/client");

type Ticker = { price: { symbol: string; value: number } };
declare const EventSourceImpl: client.EventSourceConstructor;

export const price$ = client.fromEventSource<Ticker>("http://127.0.0.1:3000/prices", {
  events: ["price"],
  EventSource: EventSourceImpl,
});
export const codes = (error: unknown): string | undefined => (client.isEventFlareError(error) ? error.code : undefined);
