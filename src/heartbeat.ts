import { asyncScheduler, interval, type Observable, type SchedulerLike, type Subscription, share } from "rxjs";
import { perScheduler } from "./perScheduler.js";

const sharedHeartbeat = perScheduler((period, scheduler) => interval(period, scheduler).pipe(share()));

/**
 * The heartbeat for one period: a single `interval` shared by every session that uses that period and scheduler.
 *
 * A thousand sessions with a 45 s heartbeat hold one timer, not a thousand. The timer starts with the first
 * subscriber and stops when the last one leaves (`share()` resets on ref-count zero), so an idle process
 * keeps no heartbeat timer alive.
 *
 * @param period Milliseconds between ticks.
 * @param scheduler Where the timer runs. Defaults to `asyncScheduler`; pass a `TestScheduler` in marble tests.
 */
export function heartbeat(period: number, scheduler: SchedulerLike = asyncScheduler): Observable<number> {
  return sharedHeartbeat(period, scheduler);
}

/** Something that writes a heartbeat when the shared timer ticks. */
export interface Beating {
  beat(): void;
}

interface Group {
  readonly members: Set<Beating>;
  subscription: Subscription | undefined;
}

const group = perScheduler((): Group => ({ members: new Set(), subscription: undefined }));

/**
 * Joins `member` to the heartbeat of `period`: one subscription to the shared {@link heartbeat} per period and
 * scheduler, fanned out over a Set, so each session costs one Set entry rather than a subscriber chain.
 * The first member starts the interval; {@link leaveHeartbeat} by the last one stops it.
 */
export function joinHeartbeat(member: Beating, period: number, scheduler: SchedulerLike = asyncScheduler): void {
  const joined = group(period, scheduler);
  joined.members.add(member);
  if (joined.subscription === undefined) {
    const { members } = joined;
    joined.subscription = heartbeat(period, scheduler).subscribe(() => {
      for (const m of members) m.beat();
    });
  }
}

/** Leaves the heartbeat joined with {@link joinHeartbeat}; the last member to leave stops the timer. */
export function leaveHeartbeat(member: Beating, period: number, scheduler: SchedulerLike = asyncScheduler): void {
  const joined = group(period, scheduler);
  if (!joined.members.delete(member) || joined.members.size > 0) return;
  joined.subscription?.unsubscribe();
  joined.subscription = undefined;
}
