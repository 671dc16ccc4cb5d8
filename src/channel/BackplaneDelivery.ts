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

/** Reads of the backplane one replay may take when the ring keeps moving past their end (a very busy channel). */
const MAX_REPLAY_READS = 3;

/**
 * A channel on a backplane. Ids come from the cluster's clock, so they are the same on every node and totally ordered
 * with every other channel's and session's. A broadcast is appended to the channel's stream and delivered by every
 * node (this one too) when it reads it back, in stream order, once: there is one delivery path.
 *
 * Replay: from the ring this node keeps (the channel's newest events, filled as they are read) when it covers the
 * Last-Event-ID, else from the backplane up to where the ring takes over, where the reads of one tick for one channel
 * are shared. A replay never holds an event newer than this node has handed out: those reach the session live, in
 * id order with its other channels'. The session holds its live events meanwhile, so the replay and the live stream
 * meet with no gap and no duplicate.
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
    if (this.ring !== undefined && this.replayFromRing(session, this.ring) === undefined) return;
    const ticket = session.replayLater();
    const replay = () => {
      const ring = this.ring as History;
      const missing = this.replayFromRing(session, ring, ticket);
      const since = session.replayPoint;
      const after = typeof since === "string" ? parseEventId(since) : since;
      if (missing === undefined || after === undefined) return;
      if (missing === "too-old") this.replayRemotely(after, ticket, 0);
      else this.vouchFor(after, ticket);
    };
    if (this.ring === undefined) this.waiting.push(replay);
    else replay();
  }
  countAll(): Promise<number> {
    return this.link.countAll();
  }

  /**
   * A Last-Event-ID newer than anything this node has read of the channel: the client was on a node that is ahead.
   * Once the backplane confirms the id was issued, nothing is replayed and the live events up to it (this node reads
   * them later) are dropped; an id the backplane never issued is a gap.
   */
  private vouchFor(after: EventId, ticket: ReplayTicket): void {
    this.link.replay(after, after).then(
      (result) => (result.ok ? ticket.deliver([], after) : ticket.gap(this.source, result.reason)),
      () => ticket.gap(this.source, "lost"),
    );
  }

  /**
   * Serves a replay from before the ring's oldest events: the backplane's events from `after` up to where the ring
   * takes over, then the ring's. Reads are shared (requests that arrive while one is in flight wait for it and try
   * it first). A ring that moved past the read's end while it was in flight is read again, a bounded number of times.
   */
  private replayRemotely(after: EventId, ticket: ReplayTicket, attempts: number): void {
    const served = this.fromLastRead(after);
    if (served !== undefined) {
      ticket.deliver(served, after);
      return;
    }
    if (this.reading !== undefined && attempts === 0) {
      this.reading.then(() => this.replayRemotely(after, ticket, attempts + 1));
      return;
    }
    if (attempts > MAX_REPLAY_READS || this.ring === undefined) {
      ticket.gap(this.source, "too-old");
      return;
    }
    const upTo = this.ring.completeAfter;
    const read = this.link.replay(after, upTo).then(
      (result) => {
        if (!result.ok) {
          ticket.gap(this.source, result.reason);
          return;
        }
        this.lastRead = { after, upTo, frames: result.events.map(backplaneFrame) };
        this.replayRemotely(after, ticket, attempts + 1);
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
   * `after`, and the ring still holds everything after the read's end.
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
   * Returns why the backplane must be asked (the id is older than the ring, or newer than anything read here), or
   * undefined when served.
   */
  private replayFromRing(
    session: Session<TEvents>,
    ring: History,
    ticket?: ReplayTicket,
  ): "too-old" | "unknown" | undefined {
    const since = session.replayPoint;
    const deliver = (frames: readonly OutboundFrame[]) =>
      ticket === undefined ? session.deliverReplay(frames) : ticket.deliver(frames);
    if (since === undefined) {
      deliver(this.options.replayLast > 0 ? ring.last(this.options.replayLast) : []);
      return undefined;
    }
    const result = ring.after(since);
    if (result.ok) {
      deliver(result.entries);
      return undefined;
    }
    if (result.reason === "too-old" || result.reason === "unknown") return result.reason;
    if (ticket === undefined) session.signalGap(this.source, result.reason);
    else ticket.gap(this.source, result.reason);
    return undefined;
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
