import type { CloseReason } from "../session/lifecycle.js";

/**
 * The process's counters, bumped on the paths they count (a plain field increment each, nothing allocated): see
 * {@link metrics}. Kept on `globalThis` under a registered symbol, so the ES module and the CommonJS build, when both
 * are loaded, count into one set.
 */
export interface Counters {
  protocol: 1;
  sessionsOpened: number;
  sessionsClosed: Record<CloseReason, number>;
  /** Events (frames with an id) handed to connections. */
  eventsWritten: number;
  /** Bytes handed to connections (events, heartbeats, signals). */
  bytesWritten: number;
  eventsReplayed: number;
  gapSignals: number;
  heartbeats: number;
}

function fresh(): Counters {
  return {
    protocol: 1,
    sessionsOpened: 0,
    sessionsClosed: {
      "client-disconnect": 0,
      "server-close": 0,
      "slow-consumer": 0,
      "write-error": 0,
      "source-error": 0,
      replaced: 0,
    },
    eventsWritten: 0,
    bytesWritten: 0,
    eventsReplayed: 0,
    gapSignals: 0,
    heartbeats: 0,
  };
}

/** The one set of counters for the process. */
export const counters: Counters = (() => {
  const key = Symbol.for("event-flare.counters");
  const holder = globalThis as { [key]?: Counters };
  if (holder[key]?.protocol !== 1) holder[key] = fresh();
  return holder[key] as Counters;
})();
