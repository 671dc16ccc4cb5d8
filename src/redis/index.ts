export type { BackplaneState } from "../backplane/Backplane.js";
export type { RedisClientLike } from "./connections.js";
export { KeyLayout } from "./keys.js";
export {
  createRedisBackplane,
  REDIS_BACKPLANE_DEFAULTS,
  RedisBackplane,
  type RedisBackplaneOptions,
} from "./RedisBackplane.js";
