import { createClient } from "redis";
import { describeValue } from "../describe.js";
import { EventFlareError } from "../errors.js";
import type { RedisClientLike } from "./connections.js";
import { MAX_ID_LENGTH } from "./keys.js";

/**
 * How to reach Redis, and how the backplane lays out its keys.
 *
 * @example
 * ```ts
 * const options: RedisBackplaneOptions = { url: "redis://127.0.0.1:6379", prefix: "shop", nodeTtl: 30_000 };
 * ```
 */
export interface RedisBackplaneOptions {
  /** A Redis URL, `redis://host:port` or `rediss://` for TLS. Give this or `client`. */
  url?: string | undefined;
  /**
   * A node-redis client (version 5 or later) to take the connection settings from. The backplane opens two
   * connections of its own from it (`client.duplicate()`: one for commands, one for its blocking reader) and never
   * closes yours. Give this or `url`.
   */
  client?: unknown;
  /** The namespace of every key, inside a hash tag: `{<prefix>}:…`. 1 to 32 of `A-Za-z0-9._-`. Defaults to `"ef"`. */
  prefix?: string | undefined;
  /** This node's name in presence counts: 1 to 256 characters. Defaults to a random UUID. */
  nodeId?: string | undefined;
  /** Milliseconds a node's heartbeat lives: a node silent that long drops out of `countAll()`. Defaults to `15000`. */
  nodeTtl?: number | undefined;
  /** Targeted events kept in the direct stream for nodes catching up after an outage. Defaults to `10000`. */
  directHistorySize?: number | undefined;
}

/**
 * The defaults of {@link RedisBackplaneOptions}.
 *
 * @example
 * ```ts
 * REDIS_BACKPLANE_DEFAULTS.nodeTtl; // 15000 ms
 * ```
 */
export const REDIS_BACKPLANE_DEFAULTS = { prefix: "ef", nodeTtl: 15_000, directHistorySize: 10_000 } as const;

/**
 * Checks the options of `createRedisBackplane` and gives the client its connections are made from: the one given, or
 * one for the URL.
 *
 * @throws EventFlareError `INVALID_OPTION` for a missing or malformed URL, a client that is not a node-redis client,
 * a number that is not a positive integer, or a `nodeId` that is not 1 to 256 characters.
 */
export function redisClientFor(options: RedisBackplaneOptions): RedisClientLike {
  if (typeof options !== "object" || options === null) {
    throw new EventFlareError("INVALID_OPTION", "createRedisBackplane takes { url } or { client }.", {
      field: "options",
    });
  }
  for (const name of ["nodeTtl", "directHistorySize"] as const) {
    const value = options[name];
    if (value !== undefined && (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1)) {
      throw new EventFlareError(
        "INVALID_OPTION",
        `Redis backplane option "${name}" must be a positive integer, got ${describeValue(value)}.`,
        { field: name },
      );
    }
  }
  const { nodeId } = options;
  if (nodeId !== undefined && (typeof nodeId !== "string" || nodeId.length === 0 || nodeId.length > MAX_ID_LENGTH)) {
    throw new EventFlareError(
      "INVALID_OPTION",
      `Redis backplane option "nodeId" must be a string of 1 to ${MAX_ID_LENGTH} characters, got ${describeValue(nodeId)}.`,
      { field: "nodeId" },
    );
  }
  return templateFor(options);
}

function templateFor(options: RedisBackplaneOptions): RedisClientLike {
  const { url, client } = options;
  if (client !== undefined) {
    if (typeof (client as RedisClientLike)?.duplicate !== "function") {
      throw new EventFlareError("INVALID_OPTION", 'Redis backplane option "client" must be a node-redis client.', {
        field: "client",
      });
    }
    return client as RedisClientLike;
  }
  if (typeof url !== "string" || !/^rediss?:\/\/[^\s]+$/.test(url)) {
    throw new EventFlareError(
      "INVALID_OPTION",
      `Redis backplane option "url" must be a redis:// or rediss:// URL, got ${describeValue(url)}.`,
      { field: "url" },
    );
  }
  try {
    new URL(url);
    return createClient({ url }) as unknown as RedisClientLike;
  } catch (cause) {
    throw new EventFlareError(
      "INVALID_OPTION",
      `Redis backplane option "url" is not a valid URL: ${describeValue(url)}.`,
      {
        field: "url",
        cause,
      },
    );
  }
}
