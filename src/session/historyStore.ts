import type { SchedulerLike, Unsubscribable } from "rxjs";
import { History } from "../history/History.js";
import { scheduleOnce } from "../timers.js";

interface StoredHistory {
  readonly history: History;
  /** Open sessions using this history. */
  users: number;
  /** While idle: the sweeper it waits in, and when it may be dropped (that scheduler's clock). */
  idle: { readonly sweeper: Sweeper; readonly ttl: number; readonly expiresAt: number } | undefined;
}

/**
 * The idle histories of one scheduler, grouped by TTL, each group in release order. Within one TTL, release order
 * is expiry order, so a sweep stops at the first live entry of each group. One timer per scheduler, armed for the
 * earliest expiry.
 */
interface Sweeper {
  readonly scheduler: SchedulerLike;
  readonly byTtl: Map<number, Set<string>>;
  timer: Unsubscribable | undefined;
  timerAt: number;
}

/**
 * Keeps each `sessionId`'s history while a session with that id is open, and for `ttl` milliseconds after
 * the last one closes, so a reconnect within the TTL resumes where it left off. After that the history is
 * dropped: memory stays bounded however many distinct ids come and go.
 *
 * Time is the releasing session's scheduler, so marble tests drive expiry virtually. On the default scheduler the
 * timer is unref'd: pending expiries never keep a process alive.
 */
export class SessionHistoryStore {
  private readonly entries = new Map<string, StoredHistory>();
  private readonly sweepers = new Map<SchedulerLike, Sweeper>();

  /** Number of histories held, open or idle. */
  get size(): number {
    return this.entries.size;
  }

  /** True when a history is held for `sessionId`. */
  has(sessionId: string): boolean {
    return this.entries.has(sessionId);
  }

  /** The history held for `sessionId`, open or idle, without taking it. */
  peek(sessionId: string): History | undefined {
    return this.entries.get(sessionId)?.history;
  }

  /** Takes the history for `sessionId`, creating it when there is none, and marks it in use. */
  acquire(sessionId: string, size: number): History {
    let entry = this.entries.get(sessionId);
    if (entry === undefined) {
      entry = { history: new History(size), users: 0, idle: undefined };
      this.entries.set(sessionId, entry);
    }
    entry.users += 1;
    if (entry.idle !== undefined) {
      entry.idle.sweeper.byTtl.get(entry.idle.ttl)?.delete(sessionId);
      entry.idle = undefined;
    }
    return entry.history;
  }

  /** Marks one use of `sessionId`'s history finished; the last one starts its TTL on `scheduler`'s clock. */
  release(sessionId: string, ttl: number, scheduler: SchedulerLike): void {
    const entry = this.entries.get(sessionId);
    if (entry === undefined) return;
    entry.users -= 1;
    if (entry.users > 0) return;
    if (ttl === 0) {
      this.entries.delete(sessionId);
      return;
    }
    let sweeper = this.sweepers.get(scheduler);
    if (sweeper === undefined) {
      sweeper = { scheduler, byTtl: new Map(), timer: undefined, timerAt: Number.POSITIVE_INFINITY };
      this.sweepers.set(scheduler, sweeper);
    }
    entry.idle = { sweeper, ttl, expiresAt: scheduler.now() + ttl };
    let group = sweeper.byTtl.get(ttl);
    if (group === undefined) {
      group = new Set();
      sweeper.byTtl.set(ttl, group);
    }
    group.add(sessionId);
    this.arm(sweeper, entry.idle.expiresAt);
  }

  /** Makes sure `sweeper` runs by `at`: one timer per scheduler, moved earlier when a shorter TTL needs it. */
  private arm(sweeper: Sweeper, at: number): void {
    if (sweeper.timer !== undefined) {
      if (sweeper.timerAt <= at) return;
      sweeper.timer.unsubscribe();
    }
    sweeper.timerAt = at;
    sweeper.timer = scheduleOnce(sweeper.scheduler, Math.max(1, at - sweeper.scheduler.now()), () =>
      this.sweep(sweeper),
    );
  }

  /**
   * Drops expired histories: in each TTL group, oldest release first, stopping at the first one still within its TTL.
   * The cost is proportional to what expires and to the number of distinct TTLs, not to how many histories are idle.
   */
  private sweep(sweeper: Sweeper): void {
    sweeper.timer = undefined;
    sweeper.timerAt = Number.POSITIVE_INFINITY;
    const now = sweeper.scheduler.now();
    for (const [ttl, group] of sweeper.byTtl) {
      for (const sessionId of group) {
        const entry = this.entries.get(sessionId);
        if (entry?.idle !== undefined && entry.idle.expiresAt > now) {
          this.arm(sweeper, entry.idle.expiresAt);
          break;
        }
        group.delete(sessionId);
        this.entries.delete(sessionId);
      }
      if (group.size === 0) sweeper.byTtl.delete(ttl);
    }
    if (sweeper.byTtl.size === 0) this.sweepers.delete(sweeper.scheduler);
  }
}

/**
 * The store every session uses: one per process, kept on `globalThis` under a registered symbol, so the ES module
 * and the CommonJS build (when both are loaded) resume the same histories.
 */
export const sessionHistories: SessionHistoryStore = (() => {
  const key = Symbol.for("event-flare.sessionHistories.v1");
  const holder = globalThis as { [key]?: SessionHistoryStore };
  holder[key] ??= new SessionHistoryStore();
  return holder[key];
})();
