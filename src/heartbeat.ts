import { asyncScheduler, interval, Observable, type SchedulerLike, type Subscription } from "rxjs";
import { SharedPerScheduler } from "./perScheduler.js";

/** Something that writes a heartbeat when the shared timer ticks. */
export interface Beating {
  beat(): void;
}

interface Group {
  readonly members: Set<Beating>;
  readonly timer: Subscription;
}

/**
 * One `interval` per period and scheduler, fanned out over a Set: a thousand sessions with a 30 s heartbeat hold
 * one timer, and each costs one Set entry. The timer starts with the first member and stops when the last leaves.
 */
const groups = new SharedPerScheduler<Group>(
  (period, scheduler) => {
    const members = new Set<Beating>();
    const timer = interval(period, scheduler).subscribe(() => {
      for (const member of members) member.beat();
    });
    return { members, timer };
  },
  (group) => group.timer.unsubscribe(),
);

/** Joins `member` to the shared heartbeat of `period`; {@link leaveHeartbeat} by the last member stops the timer. */
export function joinHeartbeat(member: Beating, period: number, scheduler: SchedulerLike = asyncScheduler): void {
  const group = groups.acquire(period, scheduler);
  if (group.members.has(member)) groups.release(period, scheduler);
  else group.members.add(member);
}

/** Leaves the heartbeat joined with {@link joinHeartbeat}; the last member to leave stops the timer. */
export function leaveHeartbeat(member: Beating, period: number, scheduler: SchedulerLike = asyncScheduler): void {
  if (groups.get(period, scheduler)?.members.delete(member) === true) groups.release(period, scheduler);
}

/** @internal How many heartbeat timers are running (for leak tests). */
export function heartbeatTimers(): number {
  return groups.size;
}

/**
 * The heartbeat for one period as an observable: emits 0, 1, 2, … every `period` milliseconds from subscription.
 *
 * Every subscription with the same period and scheduler, and every session using that period, shares one timer.
 * The timer starts with the first subscriber or session and stops when the last one leaves, so an idle process
 * keeps no heartbeat timer alive.
 *
 * @param period Milliseconds between ticks.
 * @param scheduler Where the timer runs. Defaults to `asyncScheduler`; pass a `TestScheduler` in marble tests.
 *
 * @example
 * ```ts
 * heartbeat(30_000).subscribe(() => console.log("every 30 s, one timer for every subscriber"));
 * ```
 */
export function heartbeat(period: number, scheduler: SchedulerLike = asyncScheduler): Observable<number> {
  return new Observable<number>((subscriber) => {
    let tick = 0;
    const member: Beating = { beat: () => subscriber.next(tick++) };
    joinHeartbeat(member, period, scheduler);
    return () => leaveHeartbeat(member, period, scheduler);
  });
}
