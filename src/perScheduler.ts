import type { SchedulerLike } from "rxjs";

/**
 * One shared instance per scheduler and key (a period, or a window and slice size), held only while something uses
 * it: one heartbeat timer per period, one flush queue per window. Each user takes the instance with `acquire` and
 * gives it back with `release`; the last release drops the entry (and disposes of the instance), so a process that
 * saw 300,000 distinct jittered periods keeps none of them once their sessions are gone.
 */
export class SharedPerScheduler<T, K extends number | string = number> {
  private readonly bySchedulers = new Map<SchedulerLike, Map<K, { value: T; users: number }>>();

  constructor(
    private readonly create: (ms: K, scheduler: SchedulerLike) => T,
    private readonly dispose: (value: T) => void = () => {},
  ) {}

  /** The instance for `ms` and `scheduler`, created on first use; counts one more user. */
  acquire(ms: K, scheduler: SchedulerLike): T {
    let byMs = this.bySchedulers.get(scheduler);
    if (byMs === undefined) {
      byMs = new Map();
      this.bySchedulers.set(scheduler, byMs);
    }
    let entry = byMs.get(ms);
    if (entry === undefined) {
      entry = { value: this.create(ms, scheduler), users: 0 };
      byMs.set(ms, entry);
    }
    entry.users += 1;
    return entry.value;
  }

  /** The instance for `ms` and `scheduler` when one is held, without counting a user. */
  get(ms: K, scheduler: SchedulerLike): T | undefined {
    return this.bySchedulers.get(scheduler)?.get(ms)?.value;
  }

  /** Counts one user less; the last one drops and disposes of the instance. */
  release(ms: K, scheduler: SchedulerLike): void {
    const byMs = this.bySchedulers.get(scheduler);
    const entry = byMs?.get(ms);
    if (byMs === undefined || entry === undefined) return;
    entry.users -= 1;
    if (entry.users > 0) return;
    byMs.delete(ms);
    if (byMs.size === 0) this.bySchedulers.delete(scheduler);
    this.dispose(entry.value);
  }

  /** How many instances are held, over every scheduler (for leak tests). */
  get size(): number {
    let size = 0;
    for (const byMs of this.bySchedulers.values()) size += byMs.size;
    return size;
  }
}
