import { asyncScheduler, interval, Observable, type SchedulerLike, type Subscription, type Unsubscribable } from "rxjs";
import { SharedPerScheduler } from "./perScheduler.js";
import { clockOf, scheduleOnce } from "./timers.js";

/** Something that writes a heartbeat when the shared timer ticks. */
export interface Beating {
  /**
   * Called once per period. `busySince` is the scheduler's time ({@link clockOf}) a third of a period ago: a member that wrote after it
   * may skip this heartbeat (the next one then comes at most 4/3 of a period after its last write).
   */
  beat(busySince: number): void;
}

/**
 * Most members one slice of a heartbeat sweep beats. A beat queues one write; at 25–45 µs a socket write (measured
 * at 18,000 connections, see docs/PERFORMANCE.md) a slice costs at most 6–12 ms of the event loop.
 */
export const HEARTBEAT_SLICE = 256;
/**
 * Milliseconds between two slices of one sweep. A sweep over `n` members lasts about
 * `ceil(n / HEARTBEAT_SLICE) × HEARTBEAT_SLICE_GAP` plus the slices' own work: 0.7 s plus 0.4–0.8 s at 18,000.
 */
export const HEARTBEAT_SLICE_GAP = 10;

/**
 * A session that wrote within this fraction of a period before its turn gets no heartbeat that period. A third keeps
 * every stream's longest silence under 4/3 of a period plus the sweep's jitter: 40 s (plus about 1.5 s at 18,000
 * sessions) with the default 30 s, under event-source-polyfill's 45 s `heartbeatTimeout`. Skipping whenever the
 * session wrote anything in the whole period would let a stream that wrote just after its turn stay silent for
 * almost two periods.
 */
const BUSY_FRACTION = 1 / 3;

/**
 * One period's members and its one timer. Each tick of the timer starts a sweep over the members, in the Set's order,
 * `HEARTBEAT_SLICE` at a time with `HEARTBEAT_SLICE_GAP` milliseconds between slices, so no turn of the event loop
 * writes to more than a slice of sockets, however many sessions share the period.
 *
 * The order is the Set's insertion order, which a member keeps for as long as it is in the Set: members that leave
 * only move it earlier in the sweep. So a member's beats are never more than one period apart, and a member's first
 * beat comes at most one period plus one sweep after it joined (the documented jitter).
 */
class HeartbeatGroup {
  readonly members = new Set<Beating>();
  private readonly timer: Subscription;
  /** The sweep in progress: the members not yet beaten this period, and the next one already taken. */
  private cursor: Iterator<Beating> | undefined;
  private ahead: Beating | undefined;
  private nextSlice: Unsubscribable | undefined;
  /** A tick came while a sweep was still running: a new one starts as soon as it ends. */
  private overdue = false;

  constructor(
    private readonly period: number,
    private readonly scheduler: SchedulerLike,
  ) {
    this.timer = interval(period, scheduler).subscribe(this.tick);
  }

  dispose(): void {
    this.timer.unsubscribe();
    this.nextSlice?.unsubscribe();
    this.nextSlice = undefined;
    this.cursor = undefined;
    this.ahead = undefined;
  }

  private readonly tick = (): void => {
    if (this.cursor !== undefined) {
      this.overdue = true;
      return;
    }
    this.cursor = this.members.values();
    this.ahead = undefined;
    this.slice();
  };

  private readonly slice = (): void => {
    this.nextSlice = undefined;
    const cursor = this.cursor;
    if (cursor === undefined) return;
    const busySince = clockOf(this.scheduler) - this.period * BUSY_FRACTION;
    let member = this.ahead ?? cursor.next().value;
    for (let beaten = 0; member !== undefined; beaten++) {
      if (beaten === HEARTBEAT_SLICE) {
        // Kept for the next slice; a member that leaves meanwhile ignores its beat (closed writers do nothing).
        this.ahead = member;
        this.nextSlice = scheduleOnce(this.scheduler, HEARTBEAT_SLICE_GAP, this.slice);
        return;
      }
      member.beat(busySince);
      member = cursor.next().value;
    }
    this.cursor = undefined;
    this.ahead = undefined;
    if (this.overdue) {
      this.overdue = false;
      this.tick();
    }
  };
}

/**
 * One timer per period and scheduler, fanned out over a Set: a thousand sessions with a 30 s heartbeat hold
 * one timer, and each costs one Set entry. The timer starts with the first member and stops when the last leaves.
 */
const groups = new SharedPerScheduler<HeartbeatGroup>(
  (period, scheduler) => new HeartbeatGroup(period, scheduler),
  (group) => group.dispose(),
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
 * keeps no heartbeat timer alive. Each tick reaches the subscribers and sessions 256 at a time, 10 ms apart, so a
 * subscriber behind many others hears it up to `ceil(n / 256) × 10` milliseconds (plus the work of the slices) late.
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
