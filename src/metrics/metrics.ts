import { asyncScheduler, interval, map, type Observable, type SchedulerLike, startWith } from "rxjs";
import { openChannels } from "../channel/openChannels.js";
import type { CloseReason } from "../session/lifecycle.js";
import { openSessions } from "../session/openSessions.js";
import { counters } from "./counters.js";

/**
 * A snapshot of what the process's sessions and channels are doing (see {@link metrics}).
 *
 * @example
 * ```ts
 * const snapshot: EventFlareMetrics = metrics();
 * if (snapshot.slowConsumerDrops > 0) console.warn("slow clients dropped:", snapshot.slowConsumerDrops);
 * ```
 */
export interface EventFlareMetrics {
  /** Sessions open now. */
  readonly openSessions: number;
  /** Sessions opened since the process started. */
  readonly sessionsOpened: number;
  /** Sessions closed since the process started, by reason. */
  readonly sessionsClosed: Readonly<Record<CloseReason, number>>;
  /** Sessions closed as slow consumers (the same as `sessionsClosed["slow-consumer"]`). */
  readonly slowConsumerDrops: number;
  /** Events (frames with an id) handed to client connections. */
  readonly eventsWritten: number;
  /** Bytes handed to client connections: events, heartbeats, retry hints and signals. */
  readonly bytesWritten: number;
  /** Events replayed to reconnecting clients (Last-Event-ID or `replayLast`). */
  readonly eventsReplayed: number;
  /** `history-gap` signals sent to clients. */
  readonly gapSignals: number;
  /** Heartbeat comments written. */
  readonly heartbeats: number;
  /** Every channel not closed, with the members it has in this process. */
  readonly channels: readonly { readonly channelId: string; readonly members: number }[];
}

/**
 * What the process's sessions and channels are doing, now: open sessions and every counter since the process
 * started, across every copy of event-flare loaded. The counters are plain increments on the paths they count, so
 * keeping them costs nothing measurable; a snapshot costs one pass over the open channels.
 *
 * ## Example
 * ```ts
 * const { openSessions, eventsWritten, sessionsClosed } = metrics();
 * ```
 */
export function metrics(): EventFlareMetrics {
  const channels: { channelId: string; members: number }[] = [];
  for (const ref of openChannels) {
    const channel = ref.deref();
    if (channel === undefined) openChannels.delete(ref);
    else channels.push({ channelId: channel.channelId, members: channel.getActiveConnections() });
  }
  return {
    openSessions: openSessions.size,
    sessionsOpened: counters.sessionsOpened,
    sessionsClosed: { ...counters.sessionsClosed },
    slowConsumerDrops: counters.sessionsClosed["slow-consumer"],
    eventsWritten: counters.eventsWritten,
    bytesWritten: counters.bytesWritten,
    eventsReplayed: counters.eventsReplayed,
    gapSignals: counters.gapSignals,
    heartbeats: counters.heartbeats,
    channels,
  };
}

/**
 * {@link metrics} as an observable: a snapshot at once, then one every `period` milliseconds (default 10000), on
 * `scheduler` (default `asyncScheduler`). The timer runs only while subscribed.
 *
 * @example
 * ```ts
 * metrics$(10_000).subscribe(({ openSessions, eventsWritten }) => console.log(openSessions, eventsWritten));
 * ```
 */
export function metrics$(period = 10_000, scheduler: SchedulerLike = asyncScheduler): Observable<EventFlareMetrics> {
  return interval(period, scheduler).pipe(
    startWith(-1),
    map(() => metrics()),
  );
}
