import { HEARTBEAT_FRAME } from "../encode.js";
import type { EventId } from "../ids.js";

/**
 * One encoded event ready for the wire. A broadcast creates one of these and hands the same object to every
 * session, so encoding and allocation happen once per event, not once per client.
 */
export interface OutboundFrame {
  /** The event's id, or undefined for frames that are not events (heartbeats, gap signals). */
  readonly id: EventId | undefined;
  readonly frame: Buffer;
}

/** The heartbeat frame, shared by every session. */
export const HEARTBEAT: OutboundFrame = { id: undefined, frame: Buffer.from(HEARTBEAT_FRAME) };
