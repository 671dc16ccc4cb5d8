// Koa: the seed README's snippet. `ctx.respond = false` hands the raw response to the session.
import { PassThrough } from "node:stream";
import { Session } from "event-flare";
import Koa from "koa";

const PORT = Number(process.env.PORT ?? 3003);
const app = new Koa();

app.use(async (ctx) => {
  const req = ctx.req;
  const res = ctx.res;
  ctx.respond = false;
  const stream = new PassThrough();
  ctx.body = stream;

  const session = new Session(req, res);
  const dataToSend = { stockName: "AAPL", currentStockPrice: "245.65" };
  session.sendMessage(JSON.stringify(dataToSend));
});

const server = app.listen(PORT, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
