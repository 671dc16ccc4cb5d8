// The CommonJS side of redis.mts.
import redis = require("event-flare/redis");
import eventFlare = require("event-flare");

export const backplane: redis.RedisBackplane = redis.createRedisBackplane({ url: "redis://127.0.0.1:6379" });
export const channel = new eventFlare.BroadcastStream("prices", { backplane });
export const id: Promise<string> = channel.broadcastAll("245.65", "price");
