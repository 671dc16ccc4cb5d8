import type { SchedulerLike } from "rxjs";
import { encodeEvent } from "../encode.js";
import { History, type HistoryGapReason } from "../history/History.js";
import { formatEventId, processIds } from "../ids.js";
import { sessionHistories } from "./historyStore.js";
import type { OwnHistory } from "./OwnHistory.js";
import type { OutboundFrame } from "./outboundFrame.js";

/** What a session's history needs from the session. */
export interface LocalHistoryHost {
  deliver(frame: OutboundFrame): boolean;
  deliverReplay(frames: readonly OutboundFrame[]): void;
  signalGap(source: string, reason: HistoryGapReason): void;
}

/** The settings a local history keeps by. */
export interface LocalHistorySettings {
  readonly historySize: number;
  readonly historyTtl: number;
  readonly scheduler: SchedulerLike;
}

/**
 * A session's own history in one process. For an explicit `sessionId` it comes from the store, where it outlives the
 * session for `historyTtl` so a reconnect resumes it; for a random id (which no client can come back with) it is made
 * on first use and goes with the session.
 */
export class LocalSessionHistory implements OwnHistory {
  private history: History | undefined;

  constructor(
    private readonly host: LocalHistoryHost,
    private readonly sessionId: string,
    private readonly explicit: boolean,
    private readonly settings: LocalHistorySettings,
  ) {
    if (explicit) this.history = sessionHistories.acquire(sessionId, settings.historySize);
  }

  open(lastEventId: string | undefined, replayLast: number): void {
    // A random id has no past; only an id the application chose can have history to resume (or to have lost).
    const history = this.history;
    if (history === undefined) return;
    if (lastEventId === undefined) {
      if (replayLast > 0) this.host.deliverReplay(history.last(replayLast));
      return;
    }
    const result = history.after(lastEventId);
    if (result.ok) this.host.deliverReplay(result.entries);
    else this.host.signalGap("session", result.reason);
  }

  send(data: string, event: string | undefined): string {
    const id = processIds.next();
    const idText = formatEventId(id);
    const frame = Buffer.from(encodeEvent({ data, event, id: idText }));
    this.host.deliver(this.own().append(id, frame));
    return idText;
  }

  record(frame: OutboundFrame & { id: NonNullable<OutboundFrame["id"]> }): void {
    this.own().append(frame.id, frame.frame);
  }

  close(): void {
    if (this.explicit) sessionHistories.release(this.sessionId, this.settings.historyTtl, this.settings.scheduler);
  }

  private own(): History {
    this.history ??= new History(this.settings.historySize);
    return this.history;
  }
}
