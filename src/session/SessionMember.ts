import type { Backplane } from "../backplane/Backplane.js";
import { encodeEvent } from "../encode.js";
import type { HistoryGapReason } from "../history/History.js";
import { compareEventIds, type EventId, formatEventId, parseEventId } from "../ids.js";
import { counters } from "../metrics/counters.js";
import { ConnectionState, HISTORY_GAP_EVENT, SESSION_REPLACED_EVENT, type SessionClosedEvent } from "./lifecycle.js";
import type { OutboundFrame } from "./outboundFrame.js";
import type { ReplayTicket } from "./replayTicket.js";
import { SessionCore } from "./SessionCore.js";

/**
 * The side of a session that channels, histories and backplanes talk to: frames and replays handed in, gap and loss
 * signals, replay tickets, replacement. Channels recognise a session by its brand (see brand.ts) and call these
 * members, so a channel of one copy of event-flare drives a session of another; applications use {@link Session}.
 */
export class SessionMember extends SessionCore {
  /** @internal The `session-closed` event once the session has closed, else undefined. */
  get closeEvent(): SessionClosedEvent | undefined {
    return this.closedEvent;
  }

  /**
   * @internal Where a replay to this session starts: after the newest of the client's Last-Event-ID and the newest
   * event already written to it. Undefined for a fresh client (no Last-Event-ID), which gets no replay.
   */
  get replayPoint(): string | EventId | undefined {
    const written = this.writer.lastWrittenId;
    if (this.lastEventId === undefined || written === undefined) return this.lastEventId;
    const since = parseEventId(this.lastEventId);
    return since === undefined || compareEventIds(written, since) > 0 ? written : this.lastEventId;
  }

  /** @internal Queues a frame encoded by a channel. Returns false when the session is closed. */
  deliver(frame: OutboundFrame): boolean {
    if (this.state !== ConnectionState.CONNECTED) return false;
    this.writer.write(frame);
    return true;
  }

  /** @internal Queues a frame for this session only and keeps it in the session history (targeted broadcasts). */
  deliverAndRecord(frame: OutboundFrame & { id: NonNullable<OutboundFrame["id"]> }): boolean {
    if (this.state !== ConnectionState.CONNECTED) return false;
    this.ownHistory().record(frame);
    this.writer.write(frame);
    return true;
  }

  /** @internal Queues replayed frames; they are merged with everything queued in id order, at the socket's pace. */
  deliverReplay(frames: readonly OutboundFrame[]): void {
    if (this.state === ConnectionState.CONNECTED) this.writer.writeReplay(frames);
  }

  /** @internal Tells the client and the application that `source` cannot replay everything after its Last-Event-ID. */
  signalGap(source: string, reason: HistoryGapReason): void {
    if (this.lastEventId !== undefined) this.writeGap(source, reason, this.lastEventId);
  }

  /**
   * @internal The backplane lost events of `source` that this client may not have received: it is told to resync at
   * once, whether or not it came with a Last-Event-ID.
   */
  signalLoss(source: string): void {
    const written = this.writer.lastWrittenId;
    this.writeGap(source, "lost", written === undefined ? (this.lastEventId ?? "") : formatEventId(written));
  }

  /** @internal Announces a replay still being fetched; live events are held until it is settled. */
  replayLater(): ReplayTicket {
    this.writer.awaitReplay();
    let settled = this.state !== ConnectionState.CONNECTED;
    return {
      deliver: (frames, after) => {
        if (settled) return;
        settled = true;
        if (this.state !== ConnectionState.CONNECTED) return;
        if (after !== undefined) this.writer.raiseFloor(after);
        this.writer.writeReplay(frames, true);
      },
      gap: (source, reason) => {
        if (settled) return;
        settled = true;
        this.signalGap(source, reason);
        if (this.state === ConnectionState.CONNECTED) this.writer.writeReplay([], true);
      },
    };
  }

  /** @internal The backplane this session lives on, if any: it can only join channels on the same one. */
  get backplaneOf(): Backplane | undefined {
    return this.options.backplane;
  }

  private writeGap(source: string, reason: HistoryGapReason, lastEventId: string): void {
    if (this.state !== ConnectionState.CONNECTED) return;
    counters.gapSignals += 1;
    const data = JSON.stringify({ source, reason });
    this.writer.write({ id: undefined, frame: Buffer.from(encodeEvent({ event: HISTORY_GAP_EVENT, data })) });
    // Deferred: a gap found in the constructor or in `register` must reach listeners attached right after.
    this.signals().defer({ type: "history-gap", sessionId: this.sessionId, source, reason, lastEventId });
  }

  /**
   * @internal Another session with this id took this one's place in a channel: the client is told why with a final
   * `session-replaced` event, and the session closes with reason `replaced`.
   */
  replaced(): void {
    if (this.state !== ConnectionState.CONNECTED) return;
    this.writer.write({ id: undefined, frame: REPLACED_FRAME });
    this.finish("replaced");
  }
}

const REPLACED_FRAME = Buffer.from(encodeEvent({ event: SESSION_REPLACED_EVENT, data: '{"reason":"replaced"}' }));
