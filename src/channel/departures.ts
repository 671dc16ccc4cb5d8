/**
 * The ids of sessions that recently left a channel, so `broadcastSome(msg, ids)` can tell an id that just
 * disconnected (skipped, like a closed session in a list) from one that never was a member (`NOT_REGISTERED`).
 *
 * Bounded both ways: an id is remembered for `ttl` milliseconds and at most `capacity` ids are kept (the oldest
 * departure is forgotten first), so a channel with heavy churn holds a fixed amount of memory.
 */
export class RecentDepartures {
  /** Ids in departure order, with when they left. */
  private readonly left = new Map<string, number>();

  constructor(
    private readonly ttl: number,
    private readonly capacity: number,
    private readonly now: () => number,
  ) {}

  /** Remembers that `sessionId` left now. */
  add(sessionId: string): void {
    this.left.delete(sessionId);
    this.left.set(sessionId, this.now());
    this.prune();
  }

  /** Forgets `sessionId` (it registered again). */
  delete(sessionId: string): void {
    this.left.delete(sessionId);
  }

  /** True when `sessionId` left within the last `ttl` milliseconds (and is among the newest `capacity`). */
  has(sessionId: string): boolean {
    this.prune();
    return this.left.has(sessionId);
  }

  private prune(): void {
    const cutoff = this.now() - this.ttl;
    for (const [sessionId, at] of this.left) {
      if (at >= cutoff && this.left.size <= this.capacity) return;
      this.left.delete(sessionId);
    }
  }
}
