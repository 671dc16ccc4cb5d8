// A consumer of event-flare/redis from the installed tarball, with the `redis` package installed beside it
// (package.test.ts installs it for this check; without it, importing event-flare/redis fails naming `redis`).

import type { IncomingMessage, ServerResponse } from "node:http";
import { BroadcastStream, Session } from "event-flare";
import { createRedisBackplane, type RedisBackplane } from "event-flare/redis";

type Ticker = { price: { symbol: string; value: number } };

export const backplane: RedisBackplane = createRedisBackplane({ url: "redis://127.0.0.1:6379" });
export const channel = new BroadcastStream<Ticker, RedisBackplane>("prices", { backplane });

export async function handle(req: IncomingMessage, res: ServerResponse): Promise<string> {
  channel.register(new Session<Ticker, RedisBackplane>(req, res, { backplane }));
  // @ts-expect-error on a backplane a broadcast resolves with the id: not a string at once
  const sync: string = channel.broadcastAll({ symbol: "AAPL", value: 1 }, "price");
  void sync;
  return channel.broadcastAll({ symbol: "AAPL", value: 2 }, "price");
}
