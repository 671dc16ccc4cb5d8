import { asyncScheduler, interval, type Observable, type SchedulerLike, share } from "rxjs";

const shared = new WeakMap<SchedulerLike, Map<number, Observable<number>>>();

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
  let byPeriod = shared.get(scheduler);
  if (byPeriod === undefined) {
    byPeriod = new Map();
    shared.set(scheduler, byPeriod);
  }
  let beat$ = byPeriod.get(period);
  if (beat$ === undefined) {
    beat$ = interval(period, scheduler).pipe(share());
    byPeriod.set(period, beat$);
  }
  return beat$;
}
