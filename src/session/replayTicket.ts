import type { HistoryGapReason } from "../history/History.js";
import type { EventId } from "../ids.js";
import type { OutboundFrame } from "./outboundFrame.js";

/**
 * A replay a session waits for (from a backplane): until it is settled, the session's live events are held, so they
 * cannot overtake it. Settled once, by the replayed frames or by a gap; later calls do nothing.
 */
export interface ReplayTicket {
  /**
   * The replayed frames arrived (in id order): they go out merged with the held live frames. `after`, when given, is
   * the id the replay started from: live frames at or below it are dropped from then on (the client has them).
   */
  deliver(frames: readonly OutboundFrame[], after?: EventId): void;
  /** The replay cannot be had: the client is told to resync, and the held live frames go out. */
  gap(source: string, reason: HistoryGapReason): void;
}
