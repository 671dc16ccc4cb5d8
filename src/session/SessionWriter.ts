import type { SchedulerLike, Unsubscribable } from "rxjs";
import type { Beating } from "../heartbeat.js";
import { compareEventIds, type EventId } from "../ids.js";
import { counters } from "../metrics/counters.js";
import { LONG_AGO, scheduleOnce } from "../timers.js";
import type { Connection } from "../transport/Connection.js";
import { batch } from "./batch.js";
import type { Flushable, FlushQueue } from "./flushQueue.js";
import { HEARTBEAT, type OutboundFrame } from "./outboundFrame.js";
import { ReplayBacklog } from "./ReplayBacklog.js";

/** The bounds a writer keeps (see {@link SessionWriter}). */
export interface WriterLimits {
  readonly maxBufferedBytes: number;
  readonly maxBurstBytes: number;
  readonly drainTimeout: number;
  readonly scheduler: SchedulerLike;
}

/** Who hears that a writer gave up on its client. */
export interface WriterOwner {
  writerOverflowed(): void;
}

/**
 * A session's outbound side: queues frames, writes each flush window's frames as one batch, paces replays by what
 * the socket drains, and judges whether the client keeps up.
 *
 * The slow-consumer rule judges what a client fails to drain, not what the application queued in one turn. The
 * backlog is the live bytes queued here plus the bytes the socket holds. When it is above `maxBufferedBytes`, the
 * client has `drainTimeout` milliseconds to bring it back under; if it has not, the writer overflows (the session
 * closes as `slow-consumer` and drops the socket). A backlog above `maxBurstBytes` overflows at once, so a runaway
 * producer cannot exhaust memory. A burst a healthy client drains in time is delivered whole, and one stuck client
 * never holds back the others, whose writes never wait for it.
 */
export class SessionWriter implements Flushable, Beating {
  /** The only live frame of this window (the common case: no array is allocated). */
  private first: OutboundFrame | undefined;
  /** Further live frames of this window, in order. */
  private rest: OutboundFrame[] | undefined;
  /** Bytes of live frames queued and not yet handed to the connection. */
  private liveBytes = 0;
  /** A replay being paced, with the live frames queued behind it; undefined in the common case. */
  private backlog: ReplayBacklog | undefined;
  private waitingForDrain = false;
  private queued = false;
  /** Socket-buffered bytes as last measured (at the last flush, or when near a bound). */
  private bufferedAtFlush = 0;
  private deadline: Unsubscribable | undefined;
  private lastId: EventId | undefined;
  /**
   * When set, live frames at or below it are dropped. A session on a backplane sets it to the Last-Event-ID it came
   * with: a client that was on a node ahead of this one already has the events this node has yet to read. Live
   * frames are never compared with the newest id written: a replay only holds events this node has handed out, so
   * an older live frame of another channel can only be one the client has not seen.
   */
  private floor: EventId | undefined;
  private closed = false;
  /** When bytes last went to the connection (the flush queue's clock), for the heartbeat: see {@link beat}. */
  private wroteAt = LONG_AGO;

  constructor(
    private readonly connection: Connection,
    private readonly queue: FlushQueue,
    private readonly limits: WriterLimits,
    private readonly owner: WriterOwner,
  ) {}

  /** The id of the newest event handed to the connection, or undefined when none has been. */
  get lastWrittenId(): EventId | undefined {
    return this.lastId;
  }

  /**
   * Queues a heartbeat (called by the shared heartbeat timer, once per period), unless the session wrote after
   * `busySince`: a stream that was not idle needs none, so busy streams pay nothing for heartbeats. While a replay
   * flows, its frames keep the stream alive.
   */
  beat(busySince: number): void {
    if (this.wroteAt > busySince || this.backlog !== undefined || this.closed) return;
    counters.heartbeats += 1;
    this.write(HEARTBEAT);
  }

  /** Queues a live frame for the next flush. Live frames are written in the order they were queued. */
  write(frame: OutboundFrame): void {
    if (this.closed) return;
    if (this.floor !== undefined && frame.id !== undefined && compareEventIds(frame.id, this.floor) <= 0) return;
    if (this.backlog !== undefined) this.backlog.addLive(frame);
    else if (this.first === undefined) this.first = frame;
    else if (this.rest === undefined) this.rest = [frame];
    else this.rest.push(frame);
    this.liveBytes += frame.frame.length;
    this.schedule();
    if (this.liveBytes + this.bufferedAtFlush > this.limits.maxBufferedBytes) this.judge();
  }

  /**
   * Queues replayed history (in id order), to be merged with everything queued by id and written at the pace the
   * socket drains. Entries at or below the newest id already written are dropped: the client has moved past them.
   *
   * @param awaited True when this is the replay announced by {@link awaitReplay}; it releases the live frames held.
   */
  writeReplay(entries: readonly OutboundFrame[], awaited = false): void {
    if (this.closed || (entries.length === 0 && !awaited)) return;
    counters.eventsReplayed += entries.length;
    const backlog = this.enterBacklog();
    if (entries.length > 0) backlog.addReplay(entries, this.lastId);
    if (awaited) backlog.pending -= 1;
    this.schedule();
  }

  /**
   * Announces a replay that is still being fetched: live frames are held (counted against the bounds) until the
   * matching `writeReplay(entries, true)`, so they cannot overtake it.
   */
  awaitReplay(): void {
    if (this.closed) return;
    this.enterBacklog().pending += 1;
  }

  /** Drops live frames at or below `id` from now on: the client has them. */
  raiseFloor(id: EventId): void {
    if (this.floor === undefined || compareEventIds(id, this.floor) > 0) this.floor = id;
    if (this.backlog !== undefined) this.backlog.floor = this.floor;
  }

  private enterBacklog(): ReplayBacklog {
    if (this.backlog !== undefined) return this.backlog;
    const backlog = new ReplayBacklog();
    backlog.floor = this.floor;
    // Live frames of this window may be newer than the replay: they join the merge.
    if (this.first !== undefined) backlog.addLive(this.first);
    for (const frame of this.rest ?? []) backlog.addLive(frame);
    this.first = undefined;
    this.rest = undefined;
    this.backlog = backlog;
    return backlog;
  }

  flush(): void {
    this.queued = false;
    if (this.closed) return;
    if (this.backlog !== undefined) this.flushBacklog(this.replaySlice());
    else this.flushWindow();
    this.bufferedAtFlush = this.connection.bufferedBytes;
    this.judge();
  }

  /** Writes what is queued at once if `flushFirst` (a graceful end), then accepts nothing more. */
  close(flushFirst: boolean): void {
    if (this.closed) return;
    if (flushFirst) {
      this.flushWindow();
      if (this.backlog !== undefined) {
        // A replay still being fetched will not come: what is here goes out now.
        this.backlog.pending = 0;
        this.flushBacklog(Number.POSITIVE_INFINITY);
      }
    }
    this.closed = true;
    this.first = undefined;
    this.rest = undefined;
    this.backlog = undefined;
    this.liveBytes = 0;
    this.deadline?.unsubscribe();
    this.deadline = undefined;
  }

  private schedule(): void {
    if (this.queued || this.waitingForDrain) return;
    this.queued = true;
    this.queue.add(this);
  }

  private flushWindow(): void {
    const first = this.first;
    if (first === undefined) return;
    const rest = this.rest;
    const bytes = this.liveBytes;
    this.first = undefined;
    this.rest = undefined;
    this.liveBytes = 0;
    this.wroteAt = this.queue.now;
    counters.bytesWritten += bytes;
    if (rest === undefined) {
      this.connection.write(first.frame);
      if (first.id !== undefined) {
        this.lastId = first.id;
        counters.eventsWritten += 1;
      }
    } else {
      rest.unshift(first);
      this.connection.writeBatch(batch(rest, bytes));
      this.noteWritten(rest);
    }
  }

  /** Replay slices stay well under the slow-consumer bound, so a replay alone never trips it. */
  private replaySlice(): number {
    return Math.max(1, Math.min(REPLAY_SLICE_BYTES, this.limits.maxBufferedBytes / 2) - this.connection.bufferedBytes);
  }

  private flushBacklog(budget: number): void {
    const backlog = this.backlog as ReplayBacklog;
    // Held for a replay being fetched: its arrival schedules the next flush.
    if (backlog.pending > 0) return;
    const frames = backlog.take(budget, (bytes) => {
      this.liveBytes -= bytes;
    });
    let accepting = true;
    if (frames.length > 0) {
      this.wroteAt = this.queue.now;
      const chunks = batch(frames, undefined);
      accepting = this.connection.writeBatch(chunks);
      for (const chunk of chunks) counters.bytesWritten += chunk.length;
      this.noteWritten(frames);
    }
    if (backlog.empty) {
      this.backlog = undefined;
    } else if (!accepting && budget !== Number.POSITIVE_INFINITY) {
      this.waitingForDrain = true;
      // A closure only while waiting: an idle writer holds none.
      this.connection.whenDrained(() => this.drained());
    } else {
      this.schedule();
    }
  }

  private drained(): void {
    this.waitingForDrain = false;
    if (!this.closed) this.schedule();
  }

  /** Records the newest id written, and counts the events. */
  private noteWritten(frames: readonly OutboundFrame[]): void {
    let events = 0;
    for (const { id } of frames) {
      if (id === undefined) continue;
      this.lastId = id;
      events += 1;
    }
    counters.eventsWritten += events;
  }

  /** Applies the slow-consumer rule to the current backlog (see the class comment). */
  private judge(): void {
    if (this.closed) return;
    const { maxBufferedBytes, maxBurstBytes } = this.limits;
    if (this.liveBytes + this.bufferedAtFlush > maxBufferedBytes) {
      // The figure from the last flush may be stale (the socket drains in between): measure again before judging.
      this.bufferedAtFlush = this.connection.bufferedBytes;
    }
    const backlog = this.liveBytes + this.bufferedAtFlush;
    if (backlog > maxBurstBytes) {
      this.overflow();
    } else if (backlog <= maxBufferedBytes) {
      this.deadline?.unsubscribe();
      this.deadline = undefined;
    } else if (this.deadline === undefined) {
      this.deadline = scheduleOnce(this.limits.scheduler, this.limits.drainTimeout, () => this.deadlinePassed());
    }
  }

  private deadlinePassed(): void {
    this.deadline = undefined;
    if (this.closed) return;
    this.bufferedAtFlush = this.connection.bufferedBytes;
    if (this.liveBytes + this.bufferedAtFlush > this.limits.maxBufferedBytes) this.overflow();
  }

  private overflow(): void {
    this.close(false);
    this.owner.writerOverflowed();
  }
}

/** The most replayed bytes handed to the socket before waiting for it to drain. */
const REPLAY_SLICE_BYTES = 256 * 1024;
