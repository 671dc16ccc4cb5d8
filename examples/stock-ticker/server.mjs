// The `npm start` demo: a stock ticker. Prices come from an RxJS observable, broadcast on one channel, and every
// browser that opens the page gets them live through `event-flare/client` (an ES module served from dist/). A
// reconnecting tab replays what it missed from the channel history: the page's Drop connection button asks this
// server to destroy its socket, and the page counts the ids it received against the ids it expected.
// In memory only: no Redis, no database. `/?polyfill` does the same through event-source-polyfill.
import { existsSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BroadcastStream, readLastEventId, Session } from "event-flare";
import { interval, map, share } from "rxjs";
import { serveFile, serveFolder } from "./static.mjs";

const PORT = Number(process.env.PORT ?? 3000);
const TICK_MS = Number(process.env.TICK_MS ?? 400); // one price tick every TICK_MS
const RETRY_MS = Number(process.env.RETRY_MS ?? 1000); // how long a browser waits before it reconnects
const here = fileURLToPath(new URL(".", import.meta.url));
const require = createRequire(import.meta.url);
// The files the page loads: event-flare's own ES build, rxjs's ES build, event-source-polyfill.
const eventFlareEsm = dirname(dirname(fileURLToPath(import.meta.resolve("event-flare/client"))));
const rxjsEsm = join(dirname(require.resolve("rxjs/package.json")), "dist", "esm");
// rxjs's ES build imports tslib's helpers by name; the import map points "tslib" at its ES module.
const tslib = createRequire(join(rxjsEsm, "index.js")).resolve("tslib/tslib.es6.mjs");
const polyfill = (() => {
  try {
    return require.resolve("event-source-polyfill/src/eventsource.min.js");
  } catch {
    return undefined; // a devDependency of event-flare: /?polyfill says so when it is not installed
  }
})();

const symbols = { AAPL: 245.65, MSFT: 431.2, NVDA: 138.07, AMZN: 201.7, GOOG: 176.3 };
const quote = (symbol, change = 0) => ({
  symbol,
  price: Number(symbols[symbol].toFixed(2)),
  change: Number(change.toFixed(2)),
  at: new Date().toISOString(),
});

/** One random-walk price tick every TICK_MS for a random symbol, numbered by `seq`, shared by every client. */
const prices$ = interval(TICK_MS).pipe(
  map((seq) => {
    const names = Object.keys(symbols);
    const symbol = names[Math.floor(Math.random() * names.length)];
    const previous = symbols[symbol];
    symbols[symbol] = Math.max(1, previous * (1 + (Math.random() - 0.5) / 50));
    return { ...quote(symbol, symbols[symbol] - previous), seq };
  }),
  share(),
);

const ticker = new BroadcastStream("prices", { historySize: 1000 });
/** The id of every tick, by seq, for /ticks: what a page should have received. */
const issued = [];
ticker.subscribe((event) => {
  if (event.event !== "price") return;
  issued.push({ seq: JSON.parse(event.data).seq, id: event.id });
  if (issued.length > 2000) issued.splice(0, issued.length - 2000);
});
ticker.broadcastFrom(prices$, "price");

/** Each tab's open stream, by the tab id the page puts in the URL, for the Drop connection button. */
const streams = new Map();

function openStream(req, res, url) {
  const tab = url.searchParams.get("tab") ?? "";
  const resuming = readLastEventId(req) !== undefined;
  const session = new Session(req, res, { retryInterval: RETRY_MS });
  streams.set(tab, req);
  session.once("session-closed", () => {
    if (streams.get(tab) === req) streams.delete(tab);
  });
  // A new page gets a snapshot of every symbol; a reconnecting one resumes from its Last-Event-ID instead.
  if (!resuming)
    session.sendMessage(
      Object.keys(symbols).map((symbol) => quote(symbol)),
      "snapshot",
    );
  ticker.register(session); // replays every tick after the Last-Event-ID, then goes live
  // Sent right after the replay and before any live tick: the page counts the ticks in between as replayed.
  session.sendMessage({ resumed: resuming }, "hello");
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://localhost");
  if (url.pathname === "/" || url.pathname === "/index.html") return serveFile(res, join(here, "index.html"));
  if (url.pathname === "/app.js") return serveFile(res, join(here, "app.js"));
  if (url.pathname === "/favicon.svg" || url.pathname === "/favicon.ico")
    return serveFile(res, join(here, "favicon.svg"));
  if (url.pathname === "/prices") return openStream(req, res, url);
  if (url.pathname === "/drop" && req.method === "POST") {
    // Destroys this tab's socket, as a network drop would: the browser reconnects with its Last-Event-ID.
    const stream = streams.get(url.searchParams.get("tab") ?? "");
    stream?.socket.destroy();
    res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ dropped: stream !== undefined }));
    return;
  }
  if (url.pathname === "/ticks") {
    res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache" });
    res.end(JSON.stringify(issued));
    return;
  }
  if (url.pathname === "/vendor/tslib.js") return serveFile(res, tslib);
  if (url.pathname === "/vendor/event-source-polyfill.js" && polyfill !== undefined && existsSync(polyfill)) {
    return serveFile(res, polyfill);
  }
  if (serveFolder(req, res, "/event-flare/", eventFlareEsm) || serveFolder(req, res, "/vendor/rxjs/", rxjsEsm)) return;
  res.writeHead(404, { "Content-Type": "text/plain" }).end("not found");
});

server.listen(PORT, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
