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

/** The later of two ids. */
export function maxEventId(a: EventId, b: EventId): EventId {
  return compareEventIds(a, b) >= 0 ? a : b;
}

export function formatEventId(id: EventId): string {
  return `${id.ms}-${id.seq}`;
}

/** The state an id clock keeps: the newest id issued. Shared by every copy of event-flare in the process. */
interface ClockState {
  /** The shape of this object; copies of event-flare only share a clock whose protocol they speak. */
  readonly protocol: 1;
  /** The millisecond part the process started from: every id issued is above `floorMs-0`. */
  readonly floorMs: number;
  lastMs: number;
  lastSeq: number;
}

/** Issues ids in strictly increasing order. One per process is shared by every source. */
export class EventIdGenerator {
  /** Every id issued by this generator is above this one. */
  readonly floor: EventId;
  private readonly state: ClockState;

  /**
   * @param now The wall clock.
   * @param state The state to issue from; shared between copies of the library in one process. Defaults to a new one.
   */
  constructor(
    private readonly now: () => number = Date.now,
    state?: ClockState,
  ) {
    const ms = now();
    this.state = state ?? { protocol: 1, floorMs: ms, lastMs: ms, lastSeq: 0 };
    this.floor = { ms: this.state.floorMs, seq: 0 };
  }

  /** Issues the next id. */
  next(): EventId {
    const state = this.state;
    const ms = this.now();
    if (ms > state.lastMs) {
      state.lastMs = ms;
      state.lastSeq = 0;
    } else {
      state.lastSeq += 1;
    }
    return { ms: state.lastMs, seq: state.lastSeq };
  }

  /** The newest id issued so far (the floor when none has been). */
  get last(): EventId {
    return { ms: this.state.lastMs, seq: this.state.lastSeq };
  }
}

/**
 * The clock state of the process, kept on `globalThis` under a registered symbol. When both the ES module and the
 * CommonJS build are loaded (the dual-package hazard), or two installed copies, they issue from one state, so ids
 * stay totally ordered across all of them. A copy that finds an incompatible state says so and keeps its own.
 */
function sharedClockState(): ClockState | undefined {
  const key = Symbol.for("event-flare.clock");
  const holder = globalThis as { [key]?: unknown };
  const existing = holder[key] as Partial<ClockState> | undefined;
  if (existing === undefined) {
    const ms = Date.now();
    const state: ClockState = { protocol: 1, floorMs: ms, lastMs: ms, lastSeq: 0 };
    holder[key] = state;
    return state;
  }
  if (existing.protocol === 1) return existing as ClockState;
  process.emitWarning(
    "event-flare: another copy of event-flare in this process uses an incompatible id clock; ids are ordered per copy.",
    { code: "EVENT_FLARE_CLOCK_MISMATCH" },
  );
  return undefined;
}

/** The process-wide generator: one total order for every session and channel, across copies of the library. */
export const processIds = new EventIdGenerator(Date.now, sharedClockState());
