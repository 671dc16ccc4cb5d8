import { HEARTBEAT_FRAME } from "../encode.js";
import type { Beating } from "../heartbeat.js";
import { compareEventIds, type EventId } from "../ids.js";
import type { Connection } from "../transport/Connection.js";
import type { Flushable, FlushQueue } from "./flushQueue.js";

/**
 * One encoded event ready for the wire. A broadcast creates one of these and hands the same object to every
 * session, so encoding and allocation happen once per event, not once per client.
 */
export interface OutboundFrame {
  /** The event's id, or undefined for frames that are not events (heartbeats). */
  readonly id: EventId | undefined;
  readonly frame: Buffer;
}

/**
 * A session's outbound side: queues frames, writes each flush window's frames as one chunk,
 * and watches how many bytes wait for the client.
 *
 * Memory is bounded: when queued plus socket-buffered bytes pass `maxBufferedBytes`, `onOverflow` is called once
 * (the session then closes as `slow-consumer` and drops the socket), so a stuck client never grows the heap
 * and never holds back the others, whose writes do not wait for it.
 *
 * Replayed history is merged with live frames of the same window in id order, so a client that receives
 * a replay from several sources still ends on its newest id.
 */
/** Who hears that a writer went over its limit. */
export interface WriterOwner {
  writerOverflowed(): void;
}

export class SessionWriter implements Flushable, Beating {
  /** The only frame of this window (the common case: no array is allocated). */
  private first: OutboundFrame | undefined;
  /** Further frames of this window, in order. */
  private rest: OutboundFrame[] | undefined;
  /** True when this window's frames include replayed history and must be put in id order. */
  private hasReplay = false;
  private queuedBytes = 0;
  /** Socket-buffered bytes as last measured (at the last flush, or when near the limit). */
  private bufferedAtFlush = 0;
  private closed = false;

  constructor(
    private readonly connection: Connection,
    private readonly queue: FlushQueue,
    private readonly maxBufferedBytes: number,
    private readonly owner: WriterOwner,
  ) {}

  /** Queues a heartbeat (called by the shared heartbeat timer). */
  beat(): void {
    this.write(HEARTBEAT);
  }

  /** Queues a live frame for the next flush. Live frames are written in the order they were queued. */
  write(frame: OutboundFrame): void {
    if (this.closed) return;
    if (this.first === undefined) {
      this.first = frame;
      this.queue.add(this);
    } else {
      if (this.rest === undefined) this.rest = [];
      this.rest.push(frame);
    }
    this.queuedBytes += frame.frame.length;
    if (this.queuedBytes + this.bufferedAtFlush > this.maxBufferedBytes) {
      // The figure from the last flush may be stale (the socket drains in between): measure again before judging.
      this.bufferedAtFlush = this.connection.bufferedBytes;
      if (this.queuedBytes + this.bufferedAtFlush > this.maxBufferedBytes) this.overflow();
    }
  }

  /** Queues replayed history (each list in id order); the next flush merges it with live frames by id. */
  writeReplay(entries: readonly OutboundFrame[]): void {
    if (entries.length === 0) return;
    this.hasReplay = true;
    for (const entry of entries) this.write(entry);
  }

  flush(): void {
    const first = this.first;
    if (first === undefined || this.closed) return;
    const rest = this.rest;
    const bytes = this.queuedBytes;
    this.first = undefined;
    this.rest = undefined;
    this.queuedBytes = 0;
    if (rest === undefined) {
      this.connection.write(first.frame);
    } else {
      rest.unshift(first);
      // Sorting may drop heartbeats and duplicates, so then the byte count is recomputed.
      const frames = this.hasReplay ? inIdOrder(rest) : rest;
      this.connection.writeBatch(batch(frames, this.hasReplay ? undefined : bytes));
    }
    this.hasReplay = false;
    this.bufferedAtFlush = this.connection.bufferedBytes;
    if (this.bufferedAtFlush > this.maxBufferedBytes) this.overflow();
  }

  /** Writes what is queued at once (used before a graceful end), then accepts nothing more. */
  close(flushFirst: boolean): void {
    if (flushFirst) this.flush();
    this.closed = true;
    this.first = undefined;
    this.rest = undefined;
    this.queuedBytes = 0;
  }

  private overflow(): void {
    this.close(false);
    this.owner.writerOverflowed();
  }
}

/** Frames at least this large are written as they are; smaller ones are copied together. */
const SHARE_FROM_BYTES = 512;

/**
 * Turns one flush window's frames into chunks for a single corked write. Runs of small frames are copied into one
 * buffer (a copy is cheaper than a write call each); large frames are passed as they are, so the one buffer a
 * broadcast encoded is shared by every session instead of copied into each session's batch.
 */
function batch(frames: readonly OutboundFrame[], totalBytes: number | undefined): Buffer[] {
  if (totalBytes !== undefined && totalBytes < SHARE_FROM_BYTES * frames.length) {
    // Mostly small frames: one copy of everything is cheapest.
    return [
      Buffer.concat(
        frames.map((f) => f.frame),
        totalBytes,
      ),
    ];
  }
  const chunks: Buffer[] = [];
  let run: Buffer[] = [];
  for (const { frame } of frames) {
    if (frame.length >= SHARE_FROM_BYTES) {
      if (run.length > 0) {
        chunks.push(run.length === 1 ? (run[0] as Buffer) : Buffer.concat(run));
        run = [];
      }
      chunks.push(frame);
    } else {
      run.push(frame);
    }
  }
  if (run.length > 0) chunks.push(run.length === 1 ? (run[0] as Buffer) : Buffer.concat(run));
  return chunks;
}

/** The heartbeat frame, shared by every session. */
export const HEARTBEAT: OutboundFrame = { id: undefined, frame: Buffer.from(HEARTBEAT_FRAME) };

/**
 * Frames sorted by id (stable) and de-duplicated. Heartbeats are dropped (the events keep the stream alive);
 * other frames without an id (gap signals) go first, ahead of the events they are about.
 */
function inIdOrder(frames: OutboundFrame[]): OutboundFrame[] {
  const kept = frames.filter((f) => f !== HEARTBEAT);
  kept.sort((a, b) => {
    if (a.id === undefined || b.id === undefined) return (a.id === undefined ? 0 : 1) - (b.id === undefined ? 0 : 1);
    return compareEventIds(a.id, b.id);
  });
  return kept.filter((f, i) => {
    const previous = kept[i - 1];
    return f.id === undefined || previous?.id === undefined || compareEventIds(previous.id, f.id) !== 0;
  });
}
