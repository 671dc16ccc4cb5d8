import type { SchedulerLike } from "rxjs";

/**
 * Memoizes `create` by scheduler and a number (a period or a window), so every session with the same pair shares
 * one instance: one heartbeat interval per period, one flush queue per window. Schedulers are held weakly.
 */
export function perScheduler<T>(
  create: (ms: number, scheduler: SchedulerLike) => T,
): (ms: number, scheduler: SchedulerLike) => T {
  const cache = new WeakMap<SchedulerLike, Map<number, T>>();
  return (ms, scheduler) => {
    let byMs = cache.get(scheduler);
    if (byMs === undefined) {
      byMs = new Map();
      cache.set(scheduler, byMs);
    }
    let value = byMs.get(ms);
    if (value === undefined) {
      value = create(ms, scheduler);
      byMs.set(ms, value);
    }
    return value;
  };
}
