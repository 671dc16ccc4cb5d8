// Express: the seed README's snippet, with a named event.

import { Session } from "event-flare";
import express from "express";

const PORT = Number(process.env.PORT ?? 3002);
const app = express();

app.get("/", (req, res) => {
  const session = new Session(req, res, { heartbeatInterval: 20000, retryInterval: 2000 });
  const dataToSend = { stockName: "AAPL", currentStockPrice: "245.65" };
  session.sendMessage(JSON.stringify(dataToSend), "AAPL-stock-price");
});

const server = app.listen(PORT, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
