import { History } from "../history/History.js";

interface StoredHistory {
  history: History;
  /** The TTL group the entry is idle in, while it is idle. */
  idleTtl: number | undefined;
  /** Open sessions using this history. */
  users: number;
  /** When an unused history may be dropped (Date.now() milliseconds). */
  expiresAt: number;
}

/**
 * Keeps each `sessionId`'s history while a session with that id is open, and for `ttl` milliseconds after
 * the last one closes, so a reconnect within the TTL resumes where it left off. After that the history is
 * dropped: memory stays bounded however many distinct ids come and go.
 *
 * Expiry runs on one unref'd timer for the whole store, armed for the earliest expiry.
 */
export class SessionHistoryStore {
  private readonly entries = new Map<string, StoredHistory>();
  /**
   * Unused entries grouped by TTL, each group in release order. Within one TTL, release order is expiry order,
   * so a sweep stops at the first live entry of each group.
   */
  private readonly idleByTtl = new Map<number, Set<string>>();
  private timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (Date.now() milliseconds). */
  private timerAt = Number.POSITIVE_INFINITY;

  /** Number of histories held, open or idle. */
  get size(): number {
    return this.entries.size;
  }

  /** True when a history is held for `sessionId`. */
  has(sessionId: string): boolean {
    return this.entries.has(sessionId);
  }

  /** Takes the history for `sessionId`, creating it when there is none, and marks it in use. */
  acquire(sessionId: string, size: number): History {
    let entry = this.entries.get(sessionId);
    if (entry === undefined) {
      entry = { history: new History(size), idleTtl: undefined, users: 0, expiresAt: 0 };
      this.entries.set(sessionId, entry);
    }
    entry.users += 1;
    if (entry.idleTtl !== undefined) {
      this.idleByTtl.get(entry.idleTtl)?.delete(sessionId);
      entry.idleTtl = undefined;
    }
    return entry.history;
  }

  /** Marks one use of `sessionId`'s history finished; the last one starts its TTL. */
  release(sessionId: string, ttl: number): void {
    const entry = this.entries.get(sessionId);
    if (entry === undefined) return;
    entry.users -= 1;
    if (entry.users > 0) return;
    if (ttl === 0) {
      this.entries.delete(sessionId);
      return;
    }
    entry.expiresAt = Date.now() + ttl;
    entry.idleTtl = ttl;
    let group = this.idleByTtl.get(ttl);
    if (group === undefined) {
      group = new Set();
      this.idleByTtl.set(ttl, group);
    }
    group.add(sessionId);
    this.arm(entry.expiresAt);
  }

  /** Makes sure the sweep runs by `at`: one timer for the store, moved earlier when a shorter TTL needs it. */
  private arm(at: number): void {
    if (this.timer !== undefined) {
      if (this.timerAt <= at) return;
      clearTimeout(this.timer);
    }
    this.timerAt = at;
    this.timer = setTimeout(this.sweep, Math.max(1, at - Date.now()));
    this.timer.unref();
  }

  /**
   * Drops expired histories: in each TTL group, oldest release first, stopping at the first one still within its TTL.
   * The cost is proportional to what expires and to the number of distinct TTLs, not to how many histories are idle.
   */
  private readonly sweep = (): void => {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    for (const [ttl, group] of this.idleByTtl) {
      for (const sessionId of group) {
        const entry = this.entries.get(sessionId);
        if (entry !== undefined && entry.expiresAt > now) {
          this.arm(entry.expiresAt);
          break;
        }
        group.delete(sessionId);
        this.entries.delete(sessionId);
      }
      if (group.size === 0) this.idleByTtl.delete(ttl);
    }
  };
}

/** The store every session uses by default. */
export const sessionHistories = new SessionHistoryStore();
