// The `npm start` demo: a stock ticker. Prices come from an RxJS observable, broadcast on one channel, and every
// browser that opens the page gets them live through EventSource; a reconnecting tab replays what it missed from
// the channel history. In-memory only: no Redis, no database.
import { readFileSync } from "node:fs";
import http from "node:http";
import { BroadcastStream, Session } from "event-flare";
import { interval, map, share } from "rxjs";

const PORT = Number(process.env.PORT ?? 3000);
const page = readFileSync(new URL("./index.html", import.meta.url));

const symbols = { AAPL: 245.65, MSFT: 431.2, NVDA: 138.07, AMZN: 201.7, GOOG: 176.3 };

/** One random-walk price tick every 500 ms for a random symbol, shared by every client. */
const prices$ = interval(500).pipe(
  map(() => {
    const names = Object.keys(symbols);
    const symbol = names[Math.floor(Math.random() * names.length)];
    const previous = symbols[symbol];
    const price = Math.max(1, previous * (1 + (Math.random() - 0.5) / 50));
    symbols[symbol] = price;
    return { symbol, price: price.toFixed(2), change: (price - previous).toFixed(2), at: new Date().toISOString() };
  }),
  share(),
);

const ticker = new BroadcastStream("prices", { historySize: 500 });
ticker.broadcastFrom(prices$, "price");

const server = http.createServer((req, res) => {
  if (req.url === "/" || req.url === "/index.html") {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(page);
    return;
  }
  if (req.url?.startsWith("/prices")) {
    const session = new Session(req, res, { heartbeatInterval: 15000 });
    // A snapshot first, so a new page shows every symbol at once, then live ticks until the tab closes.
    for (const [symbol, price] of Object.entries(symbols)) {
      session.sendMessage({ symbol, price: price.toFixed(2), change: "0.00", at: new Date().toISOString() }, "price");
    }
    ticker.register(session);
    return;
  }
  res.writeHead(404).end();
});

server.listen(PORT, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
