import type { SchedulerLike } from "rxjs";
import { SharedPerScheduler } from "../perScheduler.js";
import { reportListenerError } from "../reportError.js";

/** Something with queued frames to write when the queue flushes. */
export interface Flushable {
  flush(): void;
}

/**
 * Collects the writers that queued frames during one window and flushes them all together: one scheduled
 * callback per window for every session, not one per session.
 *
 * A window of `0` ends with the current event-loop turn (`process.nextTick`), so a burst of broadcasts in one
 * synchronous loop becomes one socket write per session, at the cost of at most one tick of latency.
 * A longer window is scheduled on the given scheduler.
 *
 * One writer's failure never stalls the others: each flush runs on its own, and an error is reported (see
 * `reportListenerError`) after the rest of the window has been written.
 */
export class FlushQueue {
  private dirty: Flushable[] = [];
  private scheduled = false;

  constructor(
    private readonly windowMs: number,
    private readonly scheduler: SchedulerLike,
  ) {}

  /** Flushes `writer` at the end of the current window. A writer adds itself once per window. */
  add(writer: Flushable): void {
    this.dirty.push(writer);
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.windowMs === 0) process.nextTick(this.flush);
    else this.scheduler.schedule(this.flush, this.windowMs);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const writers = this.dirty;
    this.dirty = [];
    for (const writer of writers) {
      try {
        writer.flush();
      } catch (error) {
        reportListenerError(error);
      }
    }
  };
}

/** The flush queues, one per window and scheduler, held while a session uses them. */
export const flushQueues = new SharedPerScheduler((windowMs, scheduler) => new FlushQueue(windowMs, scheduler));
