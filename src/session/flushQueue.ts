import { asyncScheduler, type SchedulerLike } from "rxjs";
import { DEFAULTS } from "../options.js";
import { SharedPerScheduler } from "../perScheduler.js";
import { reportListenerError } from "../reportError.js";
import { clockOf, LONG_AGO } from "../timers.js";

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
 * Bounded turns: one pass flushes at most `sliceSize` writers, in the order they were queued; the rest wait for the
 * next turn of the event loop (`setImmediate`), so a broadcast to 18,000 sessions never holds the loop for the whole
 * fan-out. A writer keeps its place and its frames stay in order: frames queued meanwhile join its batch. Writers that
 * join while a fan-out is being written are written after the ones already waiting.
 *
 * One writer's failure never stalls the others: each flush runs on its own, and an error is reported (see
 * `reportListenerError`) after the rest of the window has been written.
 */
export class FlushQueue {
  /** The writers waiting, oldest first from `head`; entries before it were flushed this sweep. */
  private dirty: (Flushable | undefined)[] = [];
  private head = 0;
  private scheduled = false;
  /** The scheduler's clock ({@link clockOf}), read once per pass: when the writers of this pass wrote (for the heartbeat). */
  now = LONG_AGO;

  /**
   * @param windowMs The flush window: `0` for the end of the current turn.
   * @param scheduler Where a window longer than 0 is timed.
   * @param sliceSize Most writers flushed in one turn of the event loop. `Infinity` flushes every writer at once.
   * @param nextTurn How the next slice is deferred. Defaults to `setImmediate` on the `asyncScheduler` and for a
   * window of 0, else to the scheduler (so a `TestScheduler` drives it virtually).
   */
  constructor(
    private readonly windowMs: number,
    private readonly scheduler: SchedulerLike,
    private readonly sliceSize: number = DEFAULT_FLUSH_SLICE,
    private readonly nextTurn: (work: () => void) => void = windowMs === 0 || scheduler === asyncScheduler
      ? setImmediate
      : (work) => scheduler.schedule(work),
  ) {}

  /** Flushes `writer` at the end of the current window. A writer adds itself once per window. */
  add(writer: Flushable): void {
    this.dirty.push(writer);
    if (this.scheduled) return;
    this.scheduled = true;
    this.openWindow();
  }

  private openWindow(): void {
    if (this.windowMs === 0) process.nextTick(this.flush);
    else this.scheduler.schedule(this.flush, this.windowMs);
  }

  private readonly flush = (): void => {
    this.now = clockOf(this.scheduler);
    const dirty = this.dirty;
    const waiting = dirty.length;
    const end = Math.min(waiting, this.head + this.sliceSize);
    for (let i = this.head; i < end; i++) {
      const writer = dirty[i] as Flushable;
      dirty[i] = undefined;
      this.head = i + 1;
      try {
        writer.flush();
      } catch (error) {
        reportListenerError(error);
      }
    }
    if (end < waiting) {
      // The slice is full: the rest of the fan-out goes on next turn, after whatever I/O is waiting.
      if (this.head > COMPACT_FROM) this.compact();
      this.nextTurn(this.flush);
    } else if (dirty.length > end) {
      // Writers queued while this pass wrote (a replay's next slice, a flush that queued another): a new window.
      this.compact();
      this.openWindow();
    } else {
      dirty.length = 0;
      this.head = 0;
      this.scheduled = false;
    }
  };

  /** Drops the flushed entries from the front, so a queue that never empties does not grow. */
  private compact(): void {
    this.dirty = this.dirty.slice(this.head);
    this.head = 0;
  }
}

/**
 * The default most sessions one turn of the event loop flushes (the `flushSliceSize` option). Chosen by measurement at
 * 18,000 connections on 2 vCPUs (docs/PERFORMANCE.md, "Scale"): with 250 no turn of a broadcast took over 25 ms and
 * the last client got the event sooner than with one unbounded turn; 1000 reached 57 ms, 2000 78 ms.
 */
export const DEFAULT_FLUSH_SLICE: number = DEFAULTS.flushSliceSize;

/** Compaction threshold of the queue array while a fan-out is in progress. */
const COMPACT_FROM = 4096;

/** The flush queues, one per window, slice size and scheduler, held while a session uses them. */
export const flushQueues = new SharedPerScheduler<FlushQueue, string>((key, scheduler) => {
  const [windowMs, sliceSize] = key.split("/").map(Number) as [number, number];
  return new FlushQueue(windowMs, scheduler, sliceSize);
});

/** The key of the flush queue for a window and a slice size. */
export function flushQueueKey(windowMs: number, sliceSize: number): string {
  return `${windowMs}/${sliceSize}`;
}
