import type { Backplane, BackplaneEvent, BackplaneFeed, SessionLink } from "../backplane/Backplane.js";
import { backplaneFrame } from "../backplane/frames.js";
import { formatEventId, parseEventId } from "../ids.js";
import type { ResolvedSessionOptions } from "../options.js";
import type { OwnHistory } from "./OwnHistory.js";
import type { OutboundFrame } from "./outboundFrame.js";
import type { ReplayTicket } from "./replayTicket.js";

/** What a session on a backplane needs from the session itself. */
export interface BackplaneSessionHost {
  deliver(frame: OutboundFrame): boolean;
  replayLater(): ReplayTicket;
  signalLoss(source: string): void;
}

/**
 * A session's own history and direct events when it lives on a backplane: `sendMessage` (and `sendTo` from any
 * node) appends to the session's history there, and every node that holds a session with the id delivers it when it
 * reads it back. A reconnect on any node replays from that history, merged with the channels' replays by id.
 */
export class BackplaneSession implements BackplaneFeed, OwnHistory {
  private readonly link: SessionLink;

  constructor(
    private readonly host: BackplaneSessionHost,
    backplane: Backplane,
    sessionId: string,
    explicit: boolean,
    options: ResolvedSessionOptions,
  ) {
    this.link = backplane.session(sessionId, {
      explicit,
      historySize: options.historySize,
      historyTtl: options.historyTtl,
    });
  }

  /** Starts receiving the session's events, after replaying its history from `lastEventId` (or `replayLast`). */
  open(lastEventId: string | undefined, replayLast: number): void {
    const ticket = lastEventId !== undefined || replayLast > 0 ? this.host.replayLater() : undefined;
    this.link.open(this, lastEventId, replayLast).then(
      (result) => {
        if (ticket === undefined) return;
        const since = typeof lastEventId === "string" ? parseEventId(lastEventId) : undefined;
        if (result === undefined) ticket.deliver([]);
        else if (result.ok) ticket.deliver(result.events.map(backplaneFrame), since);
        else ticket.gap("session", result.reason);
      },
      () => ticket?.gap("session", "lost"),
    );
  }

  /** Appends one event to the session's history; resolves with its id. */
  send(data: string, event: string | undefined): Promise<string> {
    return this.link.send(data, event).then(formatEventId);
  }

  /** Targeted broadcasts on a backplane are kept by the backplane itself. */
  record(): void {}

  close(): void {
    this.link.close();
  }

  /** An event sent to this session's id (from the backplane). */
  event(event: BackplaneEvent): void {
    this.host.deliver(backplaneFrame(event));
  }

  /** The backplane lost this session's history. */
  lost(): void {
    this.host.signalLoss("session");
  }
}
