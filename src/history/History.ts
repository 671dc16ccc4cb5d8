import { compareEventIds, type EventId, parseEventId, processIds } from "../ids.js";

/** One retained event: its id and its encoded frame, ready to write again. */
export interface HistoryEntry {
  readonly id: EventId;
  readonly frame: Buffer;
  /** When the entry was appended, from the history's clock, for the optional age limit. */
  readonly at: number;
}

/**
 * Why a Last-Event-ID could not be replayed from a history.
 *
 * @example
 * ```ts
 * session.on("history-gap", ({ reason }) => {
 *   if (reason === "too-old") reloadSnapshot();
 * });
 * ```
 */
export type HistoryGapReason =
  /** The id is not one this library issues (wrong shape, or too long). */
  | "malformed"
  /** The id is newer than anything this process issued: it comes from another server or a future clock. */
  | "unknown"
  /** Events after the id were dropped by the size or age limit, or issued before this history existed. */
  | "too-old"
  /**
   * The backplane lost events this client may not have received (Redis restarted without persistence, a key was
   * evicted or deleted). Sent live, to connected clients, as soon as the loss is seen.
   */
  | "lost";

/** The result of asking a history for the events after a Last-Event-ID. */
export type ReplayResult =
  | { readonly ok: true; readonly entries: readonly HistoryEntry[] }
  | { readonly ok: false; readonly reason: HistoryGapReason };

/** Where a history's ids come from: it needs the newest id issued so far. */
export interface IdClock {
  readonly last: EventId;
}

/** How a history is bounded and where its clocks come from. */
export interface HistoryOptions {
  /** Oldest entry age in milliseconds, or undefined for no age limit. */
  readonly maxAge?: number | undefined;
  /** The clock the age is measured with (a scheduler's `now`, so marble tests can drive it). Defaults to `Date.now`. */
  readonly now?: () => number;
  /** The id clock its entries come from. Defaults to the process-wide one. */
  readonly ids?: IdClock;
  /** Every event after this id is in the history (or was dropped by its bounds). Defaults to `ids.last` now. */
  readonly floor?: EventId;
}

/**
 * A bounded ring of recent events, like a `ReplaySubject(size, age)` that can answer
 * "everything after id X" and can tell when it no longer holds all of it.
 */
export class History {
  private readonly ring: (HistoryEntry | undefined)[];
  private start = 0;
  private count = 0;
  /**
   * The newest id issued before this history existed. Events up to it were never kept here, so a replay from
   * below it has a gap: they may have lived in an earlier history with the same name (a session history that
   * expired and was created again, a channel object replaced, a process restarted).
   */
  private readonly floor: EventId;
  /** The newest id this history dropped; replay from below it has a gap. */
  private droppedUpTo: EventId | undefined;
  private readonly maxAge: number | undefined;
  private readonly now: () => number;
  private readonly ids: IdClock;

  /** @param size Most entries kept; the oldest is dropped first. */
  constructor(
    readonly size: number,
    options: HistoryOptions = {},
  ) {
    this.maxAge = options.maxAge;
    this.now = options.now ?? Date.now;
    this.ids = options.ids ?? processIds;
    this.floor = options.floor ?? this.ids.last;
    // Starts small and doubles: an idle session's history costs a few slots, not historySize.
    this.ring = new Array<HistoryEntry | undefined>(Math.min(size, 4));
  }

  /** Number of retained entries. */
  get length(): number {
    this.expire();
    return this.count;
  }

  /** Appends an entry and returns it. Ids must be appended in increasing order. */
  append(id: EventId, frame: Buffer): HistoryEntry {
    if (this.count === this.size) this.dropOldest();
    if (this.count === this.ring.length) this.grow();
    const entry: HistoryEntry = { id, frame, at: this.now() };
    this.ring[(this.start + this.count) % this.ring.length] = entry;
    this.count += 1;
    return entry;
  }

  /**
   * Every retained entry with an id above `lastEventId`, oldest first, or the reason that is not
   * every event after it. The lookup is bounded: a hostile id costs a length check and one pass over the ring.
   */
  after(lastEventId: string | EventId): ReplayResult {
    const since = typeof lastEventId === "string" ? parseEventId(lastEventId) : lastEventId;
    if (since === undefined) return { ok: false, reason: "malformed" };
    if (compareEventIds(since, this.ids.last) > 0) return { ok: false, reason: "unknown" };
    if (compareEventIds(since, this.floor) < 0) return { ok: false, reason: "too-old" };
    this.expire();
    if (this.droppedUpTo !== undefined && compareEventIds(since, this.droppedUpTo) < 0) {
      return { ok: false, reason: "too-old" };
    }
    const entries: HistoryEntry[] = [];
    for (let i = 0; i < this.count; i++) {
      const entry = this.ring[(this.start + i) % this.ring.length] as HistoryEntry;
      if (compareEventIds(entry.id, since) > 0) entries.push(entry);
    }
    return { ok: true, entries };
  }

  /** Every event after this id is retained here: a replay from it on needs nothing older (the floor, or the newest dropped). */
  get completeAfter(): EventId {
    this.expire();
    const dropped = this.droppedUpTo;
    return dropped !== undefined && compareEventIds(dropped, this.floor) > 0 ? dropped : this.floor;
  }

  /** The newest `n` retained entries, oldest first. */
  last(n: number): HistoryEntry[] {
    this.expire();
    const take = Math.min(n, this.count);
    const out: HistoryEntry[] = [];
    for (let i = this.count - take; i < this.count; i++) {
      out.push(this.ring[(this.start + i) % this.ring.length] as HistoryEntry);
    }
    return out;
  }

  private expire(): void {
    if (this.maxAge === undefined) return;
    const cutoff = this.now() - this.maxAge;
    while (this.count > 0 && (this.ring[this.start] as HistoryEntry).at < cutoff) this.dropOldest();
  }

  private dropOldest(): void {
    this.droppedUpTo = (this.ring[this.start] as HistoryEntry).id;
    this.ring[this.start] = undefined;
    this.start = (this.start + 1) % this.ring.length;
    this.count -= 1;
  }

  private grow(): void {
    const next = Math.min(this.size, this.ring.length * 2);
    const entries: (HistoryEntry | undefined)[] = [];
    for (let i = 0; i < this.count; i++) entries.push(this.ring[(this.start + i) % this.ring.length]);
    this.ring.length = 0;
    this.ring.push(...entries);
    this.ring.length = next;
    this.start = 0;
  }
}
