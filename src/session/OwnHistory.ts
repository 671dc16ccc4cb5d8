import type { OutboundFrame } from "./outboundFrame.js";

/**
 * A session's own history: how its own events (`sendMessage`, targeted broadcasts) are numbered and kept, and how
 * they are replayed to a reconnecting client. In one process ({@link LocalSessionHistory}); on a backplane
 * ({@link BackplaneSession}), where the id comes back with the write.
 */
export interface OwnHistory {
  /** Replays the history to the connection that just opened, from its Last-Event-ID (or the newest `replayLast`). */
  open(lastEventId: string | undefined, replayLast: number): void;
  /** Numbers, keeps and writes one event of the session's own; returns its id, or a promise of it. */
  send(data: string, event: string | undefined): string | Promise<string>;
  /** Keeps a frame sent to this session alone by a channel in one process (a targeted broadcast). */
  record(frame: OutboundFrame & { id: NonNullable<OutboundFrame["id"]> }): void;
  /** The session closed: the history starts its TTL, or goes. */
  close(): void;
}
