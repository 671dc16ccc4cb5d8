// The soak's clients, in their own process (so the server's figures are its own): healthy eventsource clients that
// check every tick arrives once and in order across every reconnect (their own, and the server's closes), churning
// short-lived clients, and stuck clients that send a request and never read.
import net from "node:net";
import { EventSource } from "eventsource";

const { URL_BASE, HEALTHY, CHURN_PER_SECOND, STUCK } = process.env;
const healthy = [];

/** One healthy client: a sessionId of its own, and the sequence of ticks it has seen. */
function healthyClient(index) {
  const client = {
    sid: `healthy-${index}`,
    next: undefined, // the first tick it sees sets where it starts
    lastId: undefined,
    problems: [],
    source: undefined,
    reconnects: 0,
    away: false,
  };
  const open = () => {
    const query = client.lastId === undefined ? "" : `&lastEventId=${encodeURIComponent(client.lastId)}`;
    const source = new EventSource(`${URL_BASE}/?sid=${client.sid}${query}`);
    client.source = source;
    source.addEventListener("tick", (event) => {
      const seq = Number(event.data.split(" ", 1)[0]);
      if (client.next !== undefined && seq !== client.next && client.problems.length < 5) {
        client.problems.push(`expected ${client.next}, got ${seq}`);
      }
      client.next = seq + 1;
      client.lastId = event.lastEventId;
    });
    source.addEventListener("history-gap", (event) => {
      if (client.problems.length < 5) client.problems.push(`history-gap ${event.data}`);
    });
  };
  client.open = open;
  open();
  return client;
}

for (let i = 0; i < Number(HEALTHY); i++) healthy.push(healthyClient(i));

// A healthy client leaves on its own now and then, and comes back with its last id. One that is already away is left
// alone: a second timer would open a second EventSource feeding the same sequence check.
const leaving = setInterval(() => {
  const client = healthy[Math.floor(Math.random() * healthy.length)];
  if (client.away) return;
  client.away = true;
  client.source.close();
  client.reconnects += 1;
  setTimeout(
    () => {
      client.away = false;
      client.open();
    },
    50 + Math.random() * 200,
  );
}, 500);

// Churn: clients that connect, maybe read a little, and go.
const churn = setInterval(() => {
  for (let i = 0; i < Number(CHURN_PER_SECOND) / 10; i++) {
    const source = new EventSource(`${URL_BASE}/?churn`);
    setTimeout(() => source.close(), Math.random() * 2000);
  }
}, 100);

// Stuck clients: a request, then nothing read, ever. A paused socket never sees the server close it, so the server
// says when it has closed one (as slow-consumer, or by a server-side close), and a new stuck client takes its place
// half a second later.
const stuck = new Map();
const stuckUrl = new URL(URL_BASE);
let stuckOpened = 0;
const openStuck = () => {
  const name = String(stuckOpened++);
  const socket = net.connect(Number(stuckUrl.port), stuckUrl.hostname);
  socket.on("error", () => {});
  socket.on("connect", () => {
    socket.write(`GET /?stuck=${name} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`);
    socket.pause();
  });
  stuck.set(name, socket);
};
const replaceStuck = (name) => {
  stuck.get(name)?.destroy();
  stuck.delete(name);
  if (!stopping) setTimeout(openStuck, 500);
};
for (let i = 0; i < Number(STUCK); i++) openStuck();

let stopping = false;
process.on("message", (message) => {
  if (message.type === "stop") {
    stopping = true;
    clearInterval(leaving);
    clearInterval(churn);
    for (const socket of stuck.values()) socket.destroy();
    // A client whose EventSource gave up comes back once more; one that is away comes back on its own timer.
    for (const client of healthy) if (client.source.readyState === 2 && !client.away) client.open();
  } else if (message.type === "stuck-dropped") {
    replaceStuck(message.stuck);
  } else if (message.type === "report") {
    process.send({
      type: "report",
      clients: healthy.map((c) => ({ sid: c.sid, next: c.next, problems: c.problems, reconnects: c.reconnects })),
    });
  }
});
process.send({ type: "started" });
