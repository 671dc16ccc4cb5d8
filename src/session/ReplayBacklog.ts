import { compareEventIds, type EventId } from "../ids.js";
import type { OutboundFrame } from "./outboundFrame.js";

/**
 * Replayed history on its way to one client, merged in id order with the live frames that arrive meanwhile.
 *
 * The rule: a replay is paced by what the socket drains. The writer takes a slice at a time from here and waits for
 * the socket to drain before taking the next, so a reconnect that must replay more than `maxBufferedBytes` still
 * reaches a healthy client whole, and replayed frames (which history holds anyway) never count against the
 * slow-consumer bound. Live frames queued behind a replay do count: a client that stops reading is still judged.
 *
 * Order: frames are taken by id, so a client that replays from several sources (its session and each channel) and
 * receives live events during the replay ends on its newest id. A frame without an id (a gap signal) is taken as
 * soon as it reaches the head of the live queue, ahead of the events it is about. Duplicates (the same event from a
 * replay and from the live path) are written once.
 */
export class ReplayBacklog {
  /**
   * Replays still being fetched (from a backplane). While any is, nothing is taken: a live frame written before the
   * replay it follows would leave the client on the wrong Last-Event-ID.
   */
  pending = 0;
  /** Live frames at or below this id are dropped: the client already has them (see SessionWriter.raiseFloor). */
  floor: EventId | undefined;
  private replay: OutboundFrame[] = [];
  private replayHead = 0;
  private readonly live: OutboundFrame[] = [];
  private liveHead = 0;

  /** True when nothing is left to write. */
  get empty(): boolean {
    return this.replayHead === this.replay.length && this.liveHead === this.live.length;
  }

  /**
   * Merges replayed `entries` (in id order) into what is still to be written, dropping any at or below `after`
   * (the newest id the client was already sent) and any already queued.
   */
  addReplay(entries: readonly OutboundFrame[], after: EventId | undefined): void {
    const pending = this.replay.slice(this.replayHead);
    const merged: OutboundFrame[] = [];
    let i = 0;
    let j = 0;
    while (i < pending.length || j < entries.length) {
      const a = pending[i];
      const b = entries[j];
      let next: OutboundFrame;
      if (b === undefined) next = pending[i++] as OutboundFrame;
      else if (a === undefined) next = entries[j++] as OutboundFrame;
      else {
        const order = compareEventIds(a.id as EventId, b.id as EventId);
        next = order <= 0 ? (pending[i++] as OutboundFrame) : (entries[j++] as OutboundFrame);
        if (order === 0) j += 1;
      }
      const id = next.id as EventId;
      const previous = merged[merged.length - 1];
      if (after !== undefined && compareEventIds(id, after) <= 0) continue;
      if (previous !== undefined && compareEventIds(previous.id as EventId, id) === 0) continue;
      merged.push(next);
    }
    this.replay = merged;
    this.replayHead = 0;
  }

  /** Queues a live frame behind the replay. */
  addLive(frame: OutboundFrame): void {
    this.live.push(frame);
  }

  /**
   * Takes frames in order until at least `budget` bytes are taken or nothing is left (always at least one frame
   * when any is left). `onLive` is told the size of each live frame taken, so the writer can keep its count.
   */
  take(budget: number, onLive: (bytes: number) => void): OutboundFrame[] {
    const out: OutboundFrame[] = [];
    if (this.pending > 0) return out;
    let bytes = 0;
    while (bytes < budget && !this.empty) {
      const live = this.live[this.liveHead];
      const replayed = this.replay[this.replayHead];
      let frame: OutboundFrame | undefined;
      if (live !== undefined && (replayed === undefined || live.id === undefined)) frame = this.takeLive(onLive);
      else if (live === undefined) frame = this.takeReplayed();
      else {
        const order = compareEventIds(replayed?.id as EventId, live.id as EventId);
        if (order === 0) this.replayHead += 1;
        frame = order < 0 ? this.takeReplayed() : this.takeLive(onLive);
      }
      if (frame === undefined) continue;
      out.push(frame);
      bytes += frame.frame.length;
    }
    if (this.liveHead === this.live.length) {
      this.live.length = 0;
      this.liveHead = 0;
    }
    return out;
  }

  private takeLive(onLive: (bytes: number) => void): OutboundFrame | undefined {
    const frame = this.live[this.liveHead++] as OutboundFrame;
    onLive(frame.frame.length);
    const floor = this.floor;
    return floor !== undefined && frame.id !== undefined && compareEventIds(frame.id, floor) <= 0 ? undefined : frame;
  }

  private takeReplayed(): OutboundFrame {
    return this.replay[this.replayHead++] as OutboundFrame;
  }
}
