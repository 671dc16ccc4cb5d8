// The stock-ticker page: event-flare/client in the browser, as an ES module. It shows live prices with a sparkline,
// the connection state, and proves that a dropped connection loses nothing: every price tick carries a sequence
// number, and the page counts the ticks it received against the ticks it expected. `window.demo` exposes the same
// counts to the browser test.
import { fromEventSource } from "event-flare/client";
import { share } from "rxjs";

const usePolyfill = new URLSearchParams(location.search).has("polyfill");
const tab = crypto.randomUUID(); // this tab's id: the server drops this tab's stream, and only it
const $ = (id) => document.getElementById(id);

/** What the page saw, for people (rendered below) and for the browser test. */
const demo = {
  view: usePolyfill ? "event-source-polyfill" : "EventSource",
  state: "connecting",
  ids: [], // the id of each price tick, in arrival order
  seqs: [], // its sequence number, in arrival order
  reconnects: 0,
  replayed: 0, // ticks replayed on the last reconnect
  replayedTotal: 0,
  hellos: 0, // streams that reached live (one per connection)
};
window.demo = demo;

const history = new Map(); // symbol -> its last prices, for the sparkline
let replaying; // ticks counted since the stream opened, until the server's hello ends its replay

function setState(state) {
  demo.state = state;
  $("state").dataset.state = state;
  $("state").textContent = state;
}

function sparkline(values) {
  const min = Math.min(...values);
  const span = Math.max(...values) - min || 1;
  const points = values.map((v, i) => `${(i * 100) / Math.max(1, values.length - 1)},${22 - ((v - min) / span) * 20}`);
  return `<svg viewBox="0 0 100 24" width="100" height="24" aria-hidden="true"><polyline points="${points.join(" ")}"/></svg>`;
}

function render(quote) {
  let row = $(`row-${quote.symbol}`);
  if (row === null) {
    row = document.createElement("tr");
    row.id = `row-${quote.symbol}`;
    row.innerHTML = "<td></td><td class=price></td><td class=change></td><td class=spark></td>";
    row.cells[0].textContent = quote.symbol;
    $("rows").appendChild(row);
  }
  const prices = [...(history.get(quote.symbol) ?? []), quote.price].slice(-40);
  history.set(quote.symbol, prices);
  row.cells[1].textContent = quote.price.toFixed(2);
  row.cells[2].textContent = `${quote.change >= 0 ? "+" : ""}${quote.change.toFixed(2)}`;
  row.cells[2].className = `change ${quote.change < 0 ? "down" : "up"}`;
  row.cells[3].innerHTML = sparkline(prices);
}

function renderCounts() {
  const distinct = new Set(demo.seqs);
  const expected = distinct.size === 0 ? 0 : Math.max(...distinct) - Math.min(...distinct) + 1;
  $("reconnects").textContent = demo.reconnects;
  $("replayed").textContent = demo.replayed;
  $("replayed-total").textContent = demo.replayedTotal;
  $("received").textContent = distinct.size;
  $("expected").textContent = expected;
  $("missing").textContent = `${expected - distinct.size} · ${demo.seqs.length - distinct.size}`;
}

function onNotice(note) {
  if (note.type === "connection") {
    if (note.state === "open") {
      if (demo.hellos > 0) demo.reconnects += 1;
      replaying = 0;
      setState("live");
    } else {
      setState("reconnecting");
    }
  } else if (note.type === "history-gap") {
    $("log").textContent = `The server could not replay everything (${note.reason}): reload for a fresh snapshot.`;
  } else if (note.type === "invalid-data") {
    $("log").textContent = note.error.message;
  } else if (note.event === "snapshot") {
    for (const quote of note.data) render(quote);
  } else if (note.event === "price") {
    demo.ids.push(note.id);
    demo.seqs.push(note.data.seq);
    if (replaying !== undefined) replaying += 1;
    render(note.data);
  } else if (note.event === "hello") {
    // Everything between the stream's open and this hello was replayed from the server's history.
    if (note.data.resumed) {
      demo.replayed = replaying ?? 0;
      demo.replayedTotal += demo.replayed;
      $("log").textContent =
        `Reconnected with Last-Event-ID ${demo.ids.at(-demo.replayed - 1) ?? "(none)"}: ${demo.replayed} ticks replayed.`;
    }
    replaying = undefined;
    demo.hellos += 1;
  }
  renderCounts();
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(script);
  });
}

async function start() {
  if (usePolyfill) await loadScript("/vendor/event-source-polyfill.js");
  const EventSource = usePolyfill ? window.EventSourcePolyfill : window.EventSource;
  $("view").innerHTML = usePolyfill
    ? 'Through <b>event-source-polyfill</b> · <a href="/">the browser\'s EventSource</a>'
    : 'Through the browser\'s <b>EventSource</b> · <a href="/?polyfill">event-source-polyfill</a>';
  const ticker$ = fromEventSource(`/prices?tab=${tab}`, { events: ["snapshot", "price", "hello"], EventSource }).pipe(
    share(),
  );
  ticker$.subscribe({
    next: onNotice,
    error: (error) => {
      setState("stopped");
      $("log").textContent = `${error.code}: ${error.message}`;
    },
  });
  $("drop").addEventListener("click", () => {
    $("log").textContent = "Asked the server to destroy this tab's socket…";
    fetch(`/drop?tab=${tab}`, { method: "POST" }).catch((error) => {
      $("log").textContent = `Drop failed: ${error.message}`;
    });
  });
}

start().catch((error) => {
  setState("stopped");
  $("log").textContent = error.message;
});
