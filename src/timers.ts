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
