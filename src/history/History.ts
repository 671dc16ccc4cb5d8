import { compareEventIds, type EventId, parseEventId, processIds } from "../ids.js";
import { FrameArena } from "./FrameArena.js";

/** One retained event: its id and its encoded frame, ready to write again. */
export interface HistoryEntry {
  readonly id: EventId;
  readonly frame: Buffer;
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

/** Per slot, in one Float64Array: the id's two parts, then (with an age limit) when it was appended. */
const MS = 0;
const SEQ = 1;
const AT = 2;

/**
 * A bounded ring of recent events, like a `ReplaySubject(size, age)` that can answer
 * "everything after id X" and can tell when it no longer holds all of it.
 *
 * Memory is what the events take: no object per kept event. Ids (and append times) live in one Float64Array ring, and
 * frames are copied into the history's own {@link FrameArena}, so a kept frame never pins the 8 KiB pool slab that
 * `Buffer.from(string)` cut it from. Entries are made when a replay asks for them, and shared by the replays that run
 * meanwhile (a reconnect storm replays the same events to many clients), until the garbage collector takes them.
 */
export class History {
  private slots: Float64Array;
  private readonly stride: number;
  private capacity: number;
  private start = 0;
  private count = 0;
  private readonly arena: FrameArena;
  /** Entries made for replays, by slot; weakly held, so a history at rest holds none. */
  private made: WeakRef<(HistoryEntry | undefined)[]> | undefined;
  /**
   * The newest id issued before this history existed. Events up to it were never kept here, so a replay from
   * below it has a gap: they may have lived in an earlier history with the same name (a session history that
   * expired and was created again, a channel object replaced, a process restarted).
   */
  private readonly floor: EventId;
  /** The newest id this history dropped (ms < 0: none yet); replay from below it has a gap. */
  private droppedMs = -1;
  private droppedSeq = 0;
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
    this.stride = this.maxAge === undefined ? 2 : 3;
    // Starts small and doubles: an idle session's history costs a few slots, not historySize.
    this.capacity = Math.min(size, 4);
    this.slots = new Float64Array(this.capacity * this.stride);
    this.arena = new FrameArena(this.capacity, size);
  }

  /** Number of retained entries. */
  get length(): number {
    this.expire();
    return this.count;
  }

  /**
   * Appends an event (ids must be appended in increasing order) and returns it as an entry for live delivery. The
   * history keeps its own copy of the frame; the entry holds the frame given.
   */
  append(id: EventId, frame: Buffer): HistoryEntry {
    if (this.count === this.size) this.dropOldest();
    if (this.count === this.capacity) this.grow();
    const slot = (this.start + this.count) % this.capacity;
    const at = slot * this.stride;
    this.slots[at + MS] = id.ms;
    this.slots[at + SEQ] = id.seq;
    if (this.maxAge !== undefined) this.slots[at + AT] = this.now();
    this.arena.put(slot, frame);
    this.count += 1;
    return { id, frame };
  }

  /**
   * Every retained entry with an id above `lastEventId`, oldest first, or the reason that is not
   * every event after it. The lookup is bounded: a hostile id costs a length check and a binary search.
   */
  after(lastEventId: string | EventId): ReplayResult {
    const since = typeof lastEventId === "string" ? parseEventId(lastEventId) : lastEventId;
    if (since === undefined) return { ok: false, reason: "malformed" };
    if (compareEventIds(since, this.ids.last) > 0) return { ok: false, reason: "unknown" };
    if (compareEventIds(since, this.floor) < 0) return { ok: false, reason: "too-old" };
    this.expire();
    if (this.droppedMs >= 0 && (since.ms - this.droppedMs || since.seq - this.droppedSeq) < 0) {
      return { ok: false, reason: "too-old" };
    }
    // Ids increase along the ring: the first one above `since` is found by bisection.
    let low = 0;
    let high = this.count;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const at = ((this.start + mid) % this.capacity) * this.stride;
      const order = (this.slots[at + MS] as number) - since.ms || (this.slots[at + SEQ] as number) - since.seq;
      if (order > 0) high = mid;
      else low = mid + 1;
    }
    return { ok: true, entries: this.entries(low) };
  }

  /** Every event after this id is retained here: a replay from it on needs nothing older (the floor, or the newest dropped). */
  get completeAfter(): EventId {
    this.expire();
    const dropped = { ms: this.droppedMs, seq: this.droppedSeq };
    return this.droppedMs >= 0 && compareEventIds(dropped, this.floor) > 0 ? dropped : this.floor;
  }

  /** The newest `n` retained entries, oldest first. */
  last(n: number): HistoryEntry[] {
    this.expire();
    return this.entries(this.count - Math.min(n, this.count));
  }

  /** The entries from the `from`-th oldest on. */
  private entries(from: number): HistoryEntry[] {
    const out: HistoryEntry[] = [];
    if (from >= this.count) return out;
    let made = this.made?.deref();
    if (made === undefined) {
      made = [];
      this.made = new WeakRef(made);
    }
    for (let i = from; i < this.count; i++) {
      const slot = (this.start + i) % this.capacity;
      let entry = made[slot];
      if (entry === undefined) {
        const at = slot * this.stride;
        const id = { ms: this.slots[at + MS] as number, seq: this.slots[at + SEQ] as number };
        entry = { id, frame: this.arena.get(slot) };
        made[slot] = entry;
      }
      out.push(entry);
    }
    return out;
  }

  private expire(): void {
    if (this.maxAge === undefined) return;
    const cutoff = this.now() - this.maxAge;
    while (this.count > 0 && (this.slots[this.start * this.stride + AT] as number) < cutoff) this.dropOldest();
  }

  private dropOldest(): void {
    const slot = this.start;
    this.droppedMs = this.slots[slot * this.stride + MS] as number;
    this.droppedSeq = this.slots[slot * this.stride + SEQ] as number;
    this.arena.drop(slot);
    const made = this.made?.deref();
    if (made !== undefined) made[slot] = undefined;
    this.start = (this.start + 1) % this.capacity;
    this.count -= 1;
  }

  private grow(): void {
    const capacity = Math.min(this.size, this.capacity * 2);
    const slots = new Float64Array(capacity * this.stride);
    const order: number[] = [];
    for (let i = 0; i < this.count; i++) {
      const slot = (this.start + i) % this.capacity;
      slots.set(this.slots.subarray(slot * this.stride, (slot + 1) * this.stride), i * this.stride);
      order.push(slot);
    }
    this.arena.reorder(order, capacity);
    this.slots = slots;
    this.capacity = capacity;
    this.start = 0;
    this.made = undefined;
  }
}
