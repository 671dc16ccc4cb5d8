import { asyncScheduler, type SchedulerLike } from "rxjs";
import type { Backplane } from "./backplane/Backplane.js";
import { EventFlareError } from "./errors.js";
import { CHANNEL_CHECKS, checkOptions, SESSION_CHECKS } from "./optionChecks.js";

/**
 * Options for a {@link Session}. Every option is optional; the defaults are listed on each.
 *
 * @example
 * ```ts
 * const options: SessionOptions = { heartbeatInterval: 20_000, historySize: 500, sessionId: `${user.id}:${tabId}` };
 * new Session(req, res, options);
 * ```
 */
export interface SessionOptions {
  /**
   * Milliseconds between heartbeat comments that keep idle proxies and clients from closing the stream.
   * Defaults to `30000`: below event-source-polyfill's 45 s `heartbeatTimeout`, with margin for timer drift.
   */
  heartbeatInterval?: number | undefined;
  /** Milliseconds the client waits before reconnecting, sent as `retry:` when the stream opens; 0 to 2147483647. Defaults to `1000`. */
  retryInterval?: number | undefined;
  /** Most events kept in this session's history for Last-Event-ID replay; any positive integer. Defaults to `100`. */
  historySize?: number | undefined;
  /**
   * The session's id. A reconnect with the same id resumes its history, so treat it as a bearer credential: derive it
   * from the authenticated user plus a per-tab part, never from an unauthenticated query. `null` means the default,
   * like `undefined`. Defaults to a random UUID.
   */
  sessionId?: string | null | undefined;
  /**
   * Milliseconds a closed session's history is kept for a reconnect with the same `sessionId`, after which it is
   * dropped so memory stays bounded. Only applies to an explicit `sessionId` (a random one cannot be resumed, so
   * its history goes at close). Defaults to `300000` (5 minutes).
   */
  historyTtl?: number | undefined;
  /**
   * Bytes that may wait for this client (queued in event-flare plus buffered by its socket) for longer than
   * `drainTimeout`. A client whose backlog stays above it is closed with reason `slow-consumer`; a burst above it
   * that the client drains in time is delivered whole. Defaults to `1048576` (1 MiB).
   */
  maxBufferedBytes?: number | undefined;
  /**
   * Hard ceiling on this client's backlog: past it the session closes as `slow-consumer` at once, whatever
   * `drainTimeout` says, so a runaway producer cannot exhaust memory. At least `maxBufferedBytes`.
   * Defaults to 8 × `maxBufferedBytes` (8 MiB).
   */
  maxBurstBytes?: number | undefined;
  /**
   * Milliseconds a client may take to bring a backlog above `maxBufferedBytes` back under it, and that `close()`
   * waits for queued bytes to drain before dropping the socket. Defaults to `5000`.
   */
  drainTimeout?: number | undefined;
  /**
   * Milliseconds over which writes are batched into one socket write. `0` batches within one event-loop turn,
   * adding no more than a tick of latency. Defaults to `0`.
   */
  flushInterval?: number | undefined;
  /**
   * Most sessions one turn of the event loop writes to when a flush window ends. A broadcast to more sessions is
   * written in slices of this many, one per turn (`setImmediate`), so other requests are served in between; each
   * client still gets every event, in order. `Infinity` writes to every session in one turn. Sessions with the same
   * `flushInterval` and `flushSliceSize` share one queue. Defaults to `250`: measured at 18,000 connections on
   * 2 vCPUs, the longest turn of a broadcast was 27 ms (1000: 57 ms), and the last client got the event sooner
   * than with the whole fan-out in one turn (see docs/PERFORMANCE.md, "Scale").
   */
  flushSliceSize?: number | undefined;
  /** On a connection without Last-Event-ID, replay this many of the newest events from the session's history. Defaults to `0`. */
  replayLast?: number | undefined;
  /** Scheduler for the heartbeat, flush windows, drain deadlines and history clocks. Defaults to `asyncScheduler`; marble tests inject a `TestScheduler`. */
  scheduler?: SchedulerLike | undefined;
}

/** {@link SessionOptions} with every default applied. */
export interface ResolvedSessionOptions {
  readonly heartbeatInterval: number;
  readonly retryInterval: number;
  readonly historySize: number;
  readonly sessionId: string | undefined;
  readonly historyTtl: number;
  readonly maxBufferedBytes: number;
  readonly maxBurstBytes: number;
  readonly drainTimeout: number;
  readonly flushInterval: number;
  readonly flushSliceSize: number;
  readonly replayLast: number;
  readonly scheduler: SchedulerLike;
  readonly backplane: Backplane | undefined;
}

/**
 * Options for a {@link BroadcastStream}.
 *
 * @example
 * ```ts
 * const prices = new BroadcastStream("prices", { historySize: 1000, historyMaxAge: 60_000 });
 * ```
 */
export interface BroadcastStreamOptions {
  /** Most events the channel keeps for Last-Event-ID replay; any positive integer. Defaults to `100`. */
  historySize?: number | undefined;
  /** Milliseconds after which a kept event is dropped from the channel history. Defaults to no age limit. */
  historyMaxAge?: number | undefined;
  /** On `register` of a session without Last-Event-ID, replay this many of the newest channel events. Defaults to `0`. */
  replayLast?: number | undefined;
  /** Scheduler for the history clock. Defaults to `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
}

/**
 * The `backplane` option of a session or a channel, apart from the other options so that its type follows the value
 * given: with a backplane, `sendMessage` and the broadcasts resolve with the id (a promise); without, they return it.
 */
export interface BackplaneOption<TBackplane extends Backplane | undefined = Backplane | undefined> {
  /**
   * The backplane to live on (`createRedisBackplane` from `event-flare/redis`). A channel's broadcasts from any node
   * then reach its members on every node; a session's events get ids from the cluster's clock and its history is kept
   * there. A session can only join channels on the same backplane. Defaults to none: everything stays in this process.
   */
  backplane?: TBackplane;
}

/** {@link BroadcastStreamOptions} with every default applied. */
export interface ResolvedBroadcastStreamOptions {
  readonly historySize: number;
  readonly historyMaxAge: number | undefined;
  readonly replayLast: number;
  readonly scheduler: SchedulerLike;
  readonly backplane: Backplane | undefined;
}

/**
 * The defaults, in one place.
 *
 * @example
 * ```ts
 * DEFAULTS.heartbeatInterval; // 30000
 * DEFAULTS.historySize; // 100
 * ```
 */
export const DEFAULTS = {
  heartbeatInterval: 30_000,
  retryInterval: 1_000,
  historySize: 100,
  historyTtl: 300_000,
  maxBufferedBytes: 1024 * 1024,
  /** `maxBurstBytes` defaults to this many times `maxBufferedBytes`. */
  maxBurstFactor: 8,
  drainTimeout: 5_000,
  flushInterval: 0,
  flushSliceSize: 250,
  replayLast: 0,
} as const;

let defaultSessionOptions: ResolvedSessionOptions | undefined;

/**
 * Validates session options and fills in the defaults. Sessions created without options share one frozen result.
 * (An options object is resolved afresh each time: applications often reuse one object and change `sessionId`.)
 *
 * @throws EventFlareError `INVALID_OPTION`
 */
export function resolveSessionOptions(input: unknown): ResolvedSessionOptions {
  if (input === undefined || input === null) {
    defaultSessionOptions ??= Object.freeze(buildSessionOptions(undefined));
    return defaultSessionOptions;
  }
  const built = buildSessionOptions(input);
  // Applications usually pass an equal options literal for every request: sessions then share one resolved object
  // instead of keeping a copy each (about 100 bytes per idle session).
  if (lastSessionOptions !== undefined && sameOptions(built, lastSessionOptions)) return lastSessionOptions;
  lastSessionOptions = Object.freeze(built);
  return lastSessionOptions;
}

let lastSessionOptions: ResolvedSessionOptions | undefined;

function sameOptions(a: ResolvedSessionOptions, b: ResolvedSessionOptions): boolean {
  for (const key of Object.keys(a) as (keyof ResolvedSessionOptions)[]) if (a[key] !== b[key]) return false;
  return true;
}

function buildSessionOptions(input: unknown): ResolvedSessionOptions {
  const o = checkOptions<SessionOptions & BackplaneOption>(input, SESSION_CHECKS, "Session");
  const maxBufferedBytes = o.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes;
  const maxBurstBytes = o.maxBurstBytes ?? maxBufferedBytes * DEFAULTS.maxBurstFactor;
  if (maxBurstBytes < maxBufferedBytes) {
    throw new EventFlareError(
      "INVALID_OPTION",
      `Session option "maxBurstBytes" must be at least "maxBufferedBytes" (${maxBufferedBytes}), got ${maxBurstBytes}.`,
      { field: "maxBurstBytes" },
    );
  }
  return {
    heartbeatInterval: o.heartbeatInterval ?? DEFAULTS.heartbeatInterval,
    retryInterval: o.retryInterval ?? DEFAULTS.retryInterval,
    historySize: o.historySize ?? DEFAULTS.historySize,
    sessionId: o.sessionId ?? undefined,
    historyTtl: o.historyTtl ?? DEFAULTS.historyTtl,
    maxBufferedBytes,
    maxBurstBytes,
    drainTimeout: o.drainTimeout ?? DEFAULTS.drainTimeout,
    flushInterval: o.flushInterval ?? DEFAULTS.flushInterval,
    flushSliceSize: o.flushSliceSize ?? DEFAULTS.flushSliceSize,
    replayLast: o.replayLast ?? DEFAULTS.replayLast,
    scheduler: o.scheduler ?? asyncScheduler,
    backplane: o.backplane ?? undefined,
  };
}

/** Validates channel options and fills in the defaults. @throws EventFlareError `INVALID_OPTION` */
export function resolveBroadcastStreamOptions(input: unknown): ResolvedBroadcastStreamOptions {
  const o = checkOptions<BroadcastStreamOptions & BackplaneOption>(input, CHANNEL_CHECKS, "BroadcastStream");
  return {
    historySize: o.historySize ?? DEFAULTS.historySize,
    historyMaxAge: o.historyMaxAge,
    replayLast: o.replayLast ?? DEFAULTS.replayLast,
    scheduler: o.scheduler ?? asyncScheduler,
    backplane: o.backplane ?? undefined,
  };
}
