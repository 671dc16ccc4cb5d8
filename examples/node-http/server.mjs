// node:http: the seed README's snippet, plus a message every second until the client leaves.
import http from "node:http";
import { Session } from "event-flare";

const PORT = Number(process.env.PORT ?? 3001);

const server = http
  .createServer((req, res) => {
    const session = new Session(req, res);
    const dataToSend = { stockName: "AAPL", currentStockPrice: "245.65" };
    session.sendMessage(JSON.stringify(dataToSend));

    const timer = setInterval(() => session.sendMessage(new Date().toISOString(), "time"), 1000);
    session.on("session-closed", () => clearInterval(timer));
  })
  .listen(PORT, "127.0.0.1", () => {
    console.log(`listening on http://127.0.0.1:${server.address().port}`);
  });
