import { encodeEvent } from "../encode.js";
import { History } from "../history/History.js";
import { formatEventId, processIds } from "../ids.js";
import type { ResolvedBroadcastStreamOptions } from "../options.js";
import { sessionHistories } from "../session/historyStore.js";
import type { EventMap, Session } from "../session/Session.js";
import type { ChannelDelivery, ChannelHost } from "./ChannelDelivery.js";
import type { Membership } from "./Membership.js";

/**
 * A channel in one process: ids from the process clock, history in a ring here, delivery at once. Each broadcast is
 * encoded once into one Buffer that every member's writer shares, and kept in the ring for Last-Event-ID replay.
 */
export class LocalDelivery<TEvents extends EventMap> implements ChannelDelivery<TEvents> {
  private readonly history: History;

  constructor(
    private readonly host: ChannelHost<TEvents>,
    private readonly options: ResolvedBroadcastStreamOptions,
  ) {
    const scheduler = options.scheduler;
    this.history = new History(options.historySize, { maxAge: options.historyMaxAge, now: () => scheduler.now() });
  }

  broadcast(data: string, event: string | undefined): string {
    const id = processIds.next();
    const idText = formatEventId(id);
    const entry = this.history.append(id, Buffer.from(encodeEvent({ data, event, id: idText })));
    let recipients = 0;
    for (const member of this.host.members()) if (member.session.deliver(entry)) recipients += 1;
    this.host.announce({ channelId: this.host.channelId, id: idText, event, data, targets: undefined }, recipients);
    return idText;
  }

  broadcastTo(
    members: readonly Membership<TEvents>[],
    sessionIds: readonly string[],
    data: string,
    event: string | undefined,
  ): string {
    const id = processIds.next();
    const idText = formatEventId(id);
    const frame = { id, frame: Buffer.from(encodeEvent({ data, event, id: idText })) };
    let recipients = 0;
    for (const member of members) if (member.session.deliverAndRecord(frame)) recipients += 1;
    // A member that just left with an explicit sessionId finds the event in its history when it reconnects.
    for (const sessionId of sessionIds) sessionHistories.peek(sessionId)?.append(id, frame.frame);
    const targets = members.map((member) => member.session.getSessionId());
    this.host.announce({ channelId: this.host.channelId, id: idText, event, data, targets }, recipients);
    return idText;
  }

  replayTo(session: Session<TEvents>): void {
    const since = session.replayPoint;
    if (since === undefined) {
      if (this.options.replayLast > 0) session.deliverReplay(this.history.last(this.options.replayLast));
      return;
    }
    const result = this.history.after(since);
    if (result.ok) session.deliverReplay(result.entries);
    else session.signalGap(`channel:${this.host.channelId}`, result.reason);
  }

  countAll(): Promise<number> {
    let count = 0;
    for (const _ of this.host.members()) count += 1;
    return Promise.resolve(count);
  }

  membersChanged(): void {}

  close(): void {}
}
