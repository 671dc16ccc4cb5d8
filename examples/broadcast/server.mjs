// Broadcast channels: the seed README's BroadcastStream usage, with broadcastSome for some sessions only.
// GET /?plan=pro opens a "pro" session; everyone gets broadcastAll, only pro sessions get broadcastSome.
import http from "node:http";
import { BroadcastStream, Session } from "event-flare";

const PORT = Number(process.env.PORT ?? 3004);
const channelId = "AAPL-subscribers";
const broadcastStream = new BroadcastStream(channelId);
const plans = new Map(); // sessionId -> plan

broadcastStream.on("session-registered", ({ sessionId }) => console.log(`registered ${sessionId}`));
broadcastStream.on("session-deregistered", ({ sessionId, reason }) => {
  plans.delete(sessionId);
  console.log(`deregistered ${sessionId} (${reason})`);
});

const server = http.createServer((req, res) => {
  const plan = new URL(req.url, "http://localhost").searchParams.get("plan") ?? "free";
  const session = new Session(req, res);
  plans.set(session.getSessionId(), plan);
  broadcastStream.register(session);
});

let tick = 0;
setInterval(() => {
  tick += 1;
  const dataToSend = { stockName: "AAPL", currentStockPrice: (245 + Math.random()).toFixed(2), tick };
  // To every subscriber in the channel:
  broadcastStream.broadcastAll(JSON.stringify(dataToSend));
  // To some subscribers only, chosen by a predicate (or pass a list of sessions):
  broadcastStream.broadcastSome(
    JSON.stringify({ ...dataToSend, depth: [244.9, 245.1] }),
    (session) => plans.get(session.getSessionId()) === "pro",
    "depth",
  );
  console.log(`tick ${tick}: ${broadcastStream.getActiveConnections()} connected`);
}, 500).unref();

server.listen(PORT, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
