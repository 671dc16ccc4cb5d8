import type { EventMap, Session } from "../session/Session.js";
import type { ChannelEvent } from "./lifecycle.js";
import type { Membership } from "./Membership.js";

/**
 * How a channel's events are numbered, kept, replayed and delivered: the seam between a channel's members and
 * where its events live. In one process ({@link LocalDelivery}) a broadcast gets its id from the process clock and
 * is delivered at once; on a backplane ({@link BackplaneDelivery}) it gets its id from the cluster's clock, and every
 * node (this one included) delivers it when it reads it back. The channel keeps the members and the lifecycle.
 */
export interface ChannelDelivery<TEvents extends EventMap> {
  /** Sends one event to every member (on every node); returns its id, or a promise of it on a backplane. */
  broadcast(data: string, event: string | undefined): string | Promise<string>;
  /**
   * Sends one event to chosen members and to sessions named by id (members that left, or sessions on other nodes);
   * it is kept in each receiver's session history. Returns its id, or a promise of it on a backplane.
   */
  broadcastTo(
    members: readonly Membership<TEvents>[],
    sessionIds: readonly string[],
    data: string,
    event: string | undefined,
  ): string | Promise<string>;
  /** Replays the channel's kept events to a session that is registering, after its replay point. */
  replayTo(session: Session<TEvents>): void;
  /** The members on every node. */
  countAll(): Promise<number>;
  /** The member count on this node changed. */
  membersChanged(count: number): void;
  /** The channel closed. */
  close(): void;
}

/** What a delivery needs from its channel. */
export interface ChannelHost<TEvents extends EventMap> {
  readonly channelId: string;
  /** The members on this node, in registration order. */
  members(): IterableIterator<Membership<TEvents>>;
  /** Publishes one broadcast on the channel's observable and as `broadcast-success`. */
  announce(event: ChannelEvent, recipients: number): void;
}
