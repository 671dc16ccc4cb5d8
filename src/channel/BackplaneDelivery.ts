import type { Backplane, BackplaneEvent, BackplaneFeed, ChannelLink } from "../backplane/Backplane.js";
import { backplaneFrame } from "../backplane/frames.js";
import { History } from "../history/History.js";
import { compareEventIds, type EventId, formatEventId, maxEventId, parseEventId } from "../ids.js";
import type { ResolvedBroadcastStreamOptions } from "../options.js";
import type { OutboundFrame } from "../session/outboundFrame.js";
import type { ReplayTicket } from "../session/replayTicket.js";
import type { EventMap, Session } from "../session/Session.js";
import type { ChannelDelivery, ChannelHost } from "./ChannelDelivery.js";
import type { Membership } from "./Membership.js";

/**
 * A channel on a backplane. Ids come from the cluster's clock, so they are the same on every node and totally ordered
 * with every other channel's and session's. A broadcast is appended to the channel's stream and delivered by every
 * node (this one too) when it reads it back, in stream order, once: there is one delivery path.
 *
 * Replay: from the ring this node keeps (the channel's newest events, filled as they are read) when it covers the
 * Last-Event-ID, else from the backplane, where the reads of one tick for one channel are shared. The session holds its
 * live events meanwhile, so the replay and the live stream meet with no gap and no duplicate.
 */
export class BackplaneDelivery<TEvents extends EventMap> implements ChannelDelivery<TEvents>, BackplaneFeed {
  private readonly link: ChannelLink;
  /** The newest events this node has read, once following; undefined until then. */
  private ring: History | undefined;
  /** The newest id this node has read on the channel. */
  private readonly clock: { last: EventId } = { last: { ms: 0, seq: 0 } };
  /** Sessions that registered before the channel was followed; replayed once it is. */
  private waiting: (() => void)[] = [];
  /**
   * The last replay read from the backplane: its events after `after`, up to `upTo`. With the ring (which has every
   * event read since), it serves later replays from `after` on without another read, so a reconnect storm costs one
   * read per channel, not one per client.
   */
  private lastRead: { after: EventId; upTo: EventId; frames: ReturnType<typeof backplaneFrame>[] } | undefined;
  /** A replay read in flight: requests that arrive meanwhile wait for it, then try the last read first. */
  private reading: Promise<void> | undefined;

  constructor(
    private readonly host: ChannelHost<TEvents>,
    private readonly options: ResolvedBroadcastStreamOptions,
    backplane: Backplane,
  ) {
    this.link = backplane.channel(host.channelId, options.historySize);
    this.link.follow(this, options.historySize).then(
      (kept) => this.followed(kept.events, kept.floor),
      () => this.followed([], this.clock.last),
    );
  }

  broadcast(data: string, event: string | undefined): Promise<string> {
    return this.link.publish(data, event).then(formatEventId);
  }

  broadcastTo(
    members: readonly Membership<TEvents>[],
    sessionIds: readonly string[],
    data: string,
    event: string | undefined,
  ): Promise<string> {
    const targets = [...new Set([...members.map((member) => member.session.getSessionId()), ...sessionIds])];
    return this.link.publishTo(targets, data, event).then((id) => {
      const idText = formatEventId(id);
      this.host.announce({ channelId: this.host.channelId, id: idText, event, data, targets }, targets.length);
      return idText;
    });
  }

  replayTo(session: Session<TEvents>): void {
    if (this.ring !== undefined && this.replayFromRing(session, this.ring)) return;
    const ticket = session.replayLater();
    const replay = () => {
      if (this.ring !== undefined && this.replayFromRing(session, this.ring, ticket)) return;
      const since = session.replayPoint;
      const after = typeof since === "string" ? parseEventId(since) : since;
      if (after === undefined) return ticket.gap(this.source, "malformed");
      this.replayRemotely(after, ticket, false);
    };
    if (this.ring === undefined) this.waiting.push(replay);
    else replay();
  }

  countAll(): Promise<number> {
    return this.link.countAll();
  }

  /** Serves a replay the ring cannot: from the last read when it covers `after`, else from a (shared) read. */
  private replayRemotely(after: EventId, ticket: ReplayTicket, waited: boolean): void {
    const served = this.fromLastRead(after);
    if (served !== undefined) {
      ticket.deliver(served, after);
      return;
    }
    if (this.reading !== undefined && !waited) {
      this.reading.then(() => this.replayRemotely(after, ticket, true));
      return;
    }
    const read = this.link.replay(after).then(
      (result) => {
        if (!result.ok) {
          ticket.gap(this.source, result.reason);
          return;
        }
        const frames = result.events.map(backplaneFrame);
        this.lastRead = { after, upTo: frames[frames.length - 1]?.id ?? after, frames };
        ticket.deliver(frames, after);
      },
      () => ticket.gap(this.source, "lost"),
    );
    this.reading = read;
    read.then(() => {
      if (this.reading === read) this.reading = undefined;
    });
  }

  /**
   * The events after `after` from the last read and the ring, when together they hold them all: the read covers
   * `after`, and the ring holds everything after the read's newest event (or has not yet seen it: then the events
   * after it still reach the session live).
   */
  private fromLastRead(after: EventId): OutboundFrame[] | undefined {
    const read = this.lastRead;
    if (read === undefined || this.ring === undefined || compareEventIds(after, read.after) < 0) return undefined;
    // The ring's part starts after the newer of the read's end and the client's own id.
    const tail = this.ring.after(maxEventId(read.upTo, after));
    if (!tail.ok && tail.reason !== "unknown") {
      this.lastRead = undefined;
      return undefined;
    }
    const frames = read.frames.filter((frame) => compareEventIds(frame.id, after) > 0);
    return tail.ok ? [...frames, ...tail.entries] : frames;
  }

  membersChanged(count: number): void {
    this.link.reportMembers(count);
  }

  close(): void {
    this.lastRead = undefined;
    this.link.close();
  }

  /** The next event of the channel's stream (from the backplane). */
  event(event: BackplaneEvent): void {
    const entry = backplaneFrame(event);
    if (compareEventIds(event.id, this.clock.last) > 0) this.clock.last = event.id;
    this.ring?.append(event.id, entry.frame);
    let recipients = 0;
    for (const member of this.host.members()) if (member.session.deliver(entry)) recipients += 1;
    const { channelId } = this.host;
    this.host.announce(
      { channelId, id: formatEventId(event.id), event: event.event, data: event.data, targets: undefined },
      recipients,
    );
  }

  /** The backplane lost events of this channel: every member is told to resync. */
  lost(): void {
    for (const member of this.host.members()) member.session.signalLoss(this.source);
  }

  private get source(): string {
    return `channel:${this.host.channelId}`;
  }

  /**
   * Serves a replay from the ring when it can: a fresh client (replayLast), or a Last-Event-ID the ring covers.
   * Returns false when the backplane must be asked.
   */
  private replayFromRing(
    session: Session<TEvents>,
    ring: History,
    ticket?: ReturnType<Session<TEvents>["replayLater"]>,
  ): boolean {
    const since = session.replayPoint;
    const deliver = (frames: Parameters<Session<TEvents>["deliverReplay"]>[0]) =>
      ticket === undefined ? session.deliverReplay(frames) : ticket.deliver(frames);
    if (since === undefined) {
      deliver(this.options.replayLast > 0 ? ring.last(this.options.replayLast) : []);
      return true;
    }
    const result = ring.after(since);
    if (result.ok) {
      deliver(result.entries);
      return true;
    }
    if (result.reason !== "malformed") return false;
    if (ticket === undefined) session.signalGap(this.source, "malformed");
    else ticket.gap(this.source, "malformed");
    return true;
  }

  private followed(kept: readonly BackplaneEvent[], floor: EventId): void {
    const last = kept[kept.length - 1];
    if (last !== undefined && compareEventIds(last.id, this.clock.last) > 0) this.clock.last = last.id;
    const ring = new History(this.options.historySize, { ids: this.clock, floor });
    for (const event of kept) ring.append(event.id, backplaneFrame(event).frame);
    this.ring = ring;
    const waiting = this.waiting;
    this.waiting = [];
    for (const replay of waiting) replay();
  }
}
