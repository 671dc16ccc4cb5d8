// Running event-flare in production: metrics in Prometheus text format (with prom-client), and a graceful shutdown on
// SIGTERM, so a deploy ends every stream cleanly and clients come back to the next instance.
//   GET  /events         the event stream (channel "news")
//   POST /publish?n=5    broadcasts n events
//   GET  /metrics        event-flare's metrics for Prometheus
import http from "node:http";
import { BroadcastStream, closeAllSessions, metrics, Session } from "event-flare";
import client from "prom-client";

const PORT = Number(process.env.PORT ?? 3006);
const news = new BroadcastStream("news");

// Every metric is read from event-flare's snapshot at scrape time: nothing to update on the hot path.
const registry = new client.Registry();
function fromSnapshot(Type, name, help, read, labelNames = []) {
  new Type({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset(); // then set to the snapshot's value (a counter by inc from zero)
      read(metrics(), (value, labels = {}) =>
        Type === client.Counter ? this.inc(labels, value) : this.set(labels, value),
      );
    },
  });
}
fromSnapshot(client.Gauge, "event_flare_sessions_open", "Sessions open now.", (m, put) => put(m.openSessions));
fromSnapshot(client.Counter, "event_flare_sessions_opened_total", "Sessions opened.", (m, put) =>
  put(m.sessionsOpened),
);
fromSnapshot(
  client.Counter,
  "event_flare_sessions_closed_total",
  "Sessions closed, by reason.",
  (m, put) => {
    for (const [reason, count] of Object.entries(m.sessionsClosed)) put(count, { reason });
  },
  ["reason"],
);
fromSnapshot(client.Counter, "event_flare_events_written_total", "Events written to clients.", (m, put) =>
  put(m.eventsWritten),
);
fromSnapshot(client.Counter, "event_flare_bytes_written_total", "Bytes written to clients.", (m, put) =>
  put(m.bytesWritten),
);
fromSnapshot(client.Counter, "event_flare_events_replayed_total", "Events replayed on reconnect.", (m, put) =>
  put(m.eventsReplayed),
);
fromSnapshot(client.Counter, "event_flare_gap_signals_total", "history-gap signals sent.", (m, put) =>
  put(m.gapSignals),
);
fromSnapshot(client.Counter, "event_flare_slow_consumer_drops_total", "Slow clients dropped.", (m, put) =>
  put(m.slowConsumerDrops),
);
fromSnapshot(client.Counter, "event_flare_heartbeats_total", "Heartbeats written.", (m, put) => put(m.heartbeats));
fromSnapshot(
  client.Gauge,
  "event_flare_channel_members",
  "Members per channel.",
  (m, put) => {
    for (const { channelId, members } of m.channels) put(members, { channel: channelId });
  },
  ["channel"],
);

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://localhost");
  if (url.pathname === "/events") {
    news.register(new Session(req, res, { sessionId: url.searchParams.get("sid") }));
  } else if (url.pathname === "/publish" && req.method === "POST") {
    const n = Number(url.searchParams.get("n") ?? 1);
    for (let i = 0; i < n; i++) news.broadcastAll({ headline: `story ${i}` });
    res.end(`published ${n}\n`);
  } else if (url.pathname === "/metrics") {
    res.writeHead(200, { "Content-Type": registry.contentType });
    res.end(await registry.metrics());
  } else {
    res.writeHead(404).end();
  }
});

// On a deploy: stop accepting, end every stream (clients retry in 1 s, on the next instance), then exit by itself.
process.once("SIGTERM", async () => {
  server.close(() => console.log("server closed"));
  await closeAllSessions({ retry: 1000 });
  console.log("every session closed");
});

server.listen(PORT, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
