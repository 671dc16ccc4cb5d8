// A browser consumer of event-flare/client from the installed tarball. package.test.ts type-checks it with the DOM
// library and no @types/node, and no skipLibCheck: the client's declarations must not need Node.
import {
  type ClientNotification,
  EventFlareError,
  type EventSourceConstructor,
  fromEventSource,
  isEventFlareError,
} from "event-flare/client";
import { filter, type Observable, share } from "rxjs";

type Ticker = { price: { symbol: string; value: number }; halt: { symbol: string }; note: string };

export const ticker$: Observable<ClientNotification<Ticker>> = fromEventSource<Ticker>("/prices", {
  events: ["price", "halt", "note"],
  raw: ["note"],
  withCredentials: true,
  EventSource: EventSource as EventSourceConstructor,
}).pipe(share());

ticker$.pipe(filter((n) => n.type === "message")).subscribe((message) => {
  if (message.event === "price") document.title = `${message.data.symbol} ${message.data.value.toFixed(2)}`;
});
ticker$.subscribe({
  error: (error: unknown) => {
    if (isEventFlareError(error, "CLIENT_HTTP_STATUS")) console.log(error.message);
    if (error instanceof EventFlareError) console.log(error.code);
  },
});
// @ts-expect-error "volume" is not in the map
fromEventSource<Ticker>("/prices", { events: ["volume"] });
// @ts-expect-error a typed map needs its event names
fromEventSource<Ticker>("/prices");
