import { encodeEvent } from "../encode.js";
import { formatEventId } from "../ids.js";
import type { OutboundFrame } from "../session/outboundFrame.js";
import type { BackplaneEvent } from "./Backplane.js";

/** An event read from a backplane, encoded once (by the one encoder) into a frame every local receiver shares. */
export function backplaneFrame(event: BackplaneEvent): OutboundFrame & { id: NonNullable<OutboundFrame["id"]> } {
  const frame = Buffer.from(encodeEvent({ data: event.data, event: event.event, id: formatEventId(event.id) }));
  return { id: event.id, frame };
}
