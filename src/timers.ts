import { asyncScheduler, type SchedulerLike, type Unsubscribable } from "rxjs";

/**
 * Runs `work` once, `delay` milliseconds from now, on `scheduler`, and returns how to cancel it.
 *
 * On the default `asyncScheduler` this is an unref'd `setTimeout`: a pending deadline or expiry never keeps the
 * process alive by itself, so `server.close()` lets it exit. Any other scheduler (a `TestScheduler` in marble tests)
 * is used as it is, so time can be driven virtually.
 */
export function scheduleOnce(scheduler: SchedulerLike, delay: number, work: () => void): Unsubscribable {
  if (scheduler === asyncScheduler) {
    const timer = setTimeout(work, delay);
    timer.unref();
    return { unsubscribe: () => clearTimeout(timer) };
  }
  return scheduler.schedule(work, delay);
}

/** When this module loaded, on the wall clock. */
const EPOCH = Date.now();

/**
 * `scheduler.now()` as a small whole number: on the default scheduler, milliseconds since event-flare loaded (a value V8
 * keeps inline in a field for 12 days, where a wall-clock time needs a 16-byte box per object); any other scheduler's
 * clock as it is, so virtual time stays virtual.
 */
export function clockOf(scheduler: SchedulerLike): number {
  return scheduler === asyncScheduler ? Math.round(scheduler.now() - EPOCH) : scheduler.now();
}

/** A time before anything {@link clockOf} returns (a whole number, kept inline like the times it is compared with). */
export const LONG_AGO = -1e9;
