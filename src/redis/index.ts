export type { BackplaneState } from "../backplane/Backplane.js";
export type { RedisClientLike } from "./connections.js";
export { KeyLayout } from "./keys.js";
export { REDIS_BACKPLANE_DEFAULTS, type RedisBackplaneOptions } from "./options.js";
export { createRedisBackplane, RedisBackplane } from "./RedisBackplane.js";
