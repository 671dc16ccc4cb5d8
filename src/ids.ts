/**
 * Event ids: `<milliseconds>-<sequence>`, the shape Redis stream ids have.
 *
 * Ids strictly increase in the order they are issued, across every session and channel of the process.
 * The millisecond part follows the wall clock but never goes back, and a restarted process starts from
 * its own start time, so an id from before a restart sorts below everything the new process issues
 * and can never match a new event.
 */
export interface EventId {
  readonly ms: number;
  readonly seq: number;
}

/** Longest id string worth parsing; anything longer is malformed, so a hostile header costs a length check. */
const MAX_ID_LENGTH = 40;
const ID_PATTERN = /^(\d{1,15})-(\d{1,15})$/;

/** Parses an id string, or returns undefined when it is not an id this library issued. */
export function parseEventId(text: string): EventId | undefined {
  if (text.length > MAX_ID_LENGTH) return undefined;
  const match = ID_PATTERN.exec(text);
  if (match === null) return undefined;
  return { ms: Number(match[1]), seq: Number(match[2]) };
}

/** Negative when `a` was issued before `b`, zero when equal, positive when after. */
export function compareEventIds(a: EventId, b: EventId): number {
  return a.ms - b.ms || a.seq - b.seq;
}

export function formatEventId(id: EventId): string {
  return `${id.ms}-${id.seq}`;
}

/** Issues ids in strictly increasing order. One per process is shared by every source. */
export class EventIdGenerator {
  /** Every id issued by this generator is above this one. */
  readonly floor: EventId;
  private lastMs: number;
  private lastSeq: number;

  constructor(private readonly now: () => number = Date.now) {
    this.lastMs = now();
    this.lastSeq = 0;
    this.floor = { ms: this.lastMs, seq: 0 };
  }

  /** Issues the next id. */
  next(): EventId {
    const ms = this.now();
    if (ms > this.lastMs) {
      this.lastMs = ms;
      this.lastSeq = 0;
    } else {
      this.lastSeq += 1;
    }
    return { ms: this.lastMs, seq: this.lastSeq };
  }

  /** The newest id issued so far (the floor when none has been). */
  get last(): EventId {
    return { ms: this.lastMs, seq: this.lastSeq };
  }
}

/** The process-wide generator: one total order for every session and channel. */
export const processIds = new EventIdGenerator();
