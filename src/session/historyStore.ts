import { History } from "../history/History.js";

interface StoredHistory {
  history: History;
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
   * Unused entries in release order. With one TTL for every session this is expiry order; with mixed TTLs a short
   * one waits behind an earlier, longer one, so a history lives at least its TTL and at most the longest TTL in use.
   */
  private readonly idle = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

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
      entry = { history: new History(size), users: 0, expiresAt: 0 };
      this.entries.set(sessionId, entry);
    }
    entry.users += 1;
    this.idle.delete(sessionId);
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
    this.idle.add(sessionId);
    this.arm(ttl);
  }

  private arm(delay: number): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(this.sweep, delay);
    this.timer.unref();
  }

  /**
   * Drops expired histories, oldest release first, stopping at the first one still within its TTL.
   * The cost is proportional to what expires, not to how many histories are idle.
   */
  private readonly sweep = (): void => {
    this.timer = undefined;
    const now = Date.now();
    for (const sessionId of this.idle) {
      const entry = this.entries.get(sessionId);
      if (entry !== undefined && entry.expiresAt > now) {
        this.arm(entry.expiresAt - now);
        return;
      }
      this.idle.delete(sessionId);
      this.entries.delete(sessionId);
    }
  };
}

/** The store every session uses by default. */
export const sessionHistories = new SessionHistoryStore();
