import type { Observable } from "rxjs";
import type { HistoryGapReason } from "../history/History.js";
import type { EventId } from "../ids.js";

/**
 * The seam between core and a multi-node backplane (the Redis one lives in `event-flare/redis`; core never imports
 * it). A backplane numbers events with one clock for the whole cluster, keeps each channel's and each session's
 * history, and hands every node the events it must deliver, in order, exactly once.
 *
 * Channels and sessions given a backplane (`{ backplane }`) talk to it through the links below; everything else
 * (members, writers, replay merging, the slow-consumer rule) stays in core and works as it does in one process.
 */
export interface Backplane {
  /** The connection state now. */
  readonly state: BackplaneState;
  /** The connection state: the current value at once, then each change; completes after `closed`. */
  readonly state$: Observable<BackplaneState>;
  /** The link to one channel's history and live events. */
  channel(channelId: string, historySize: number): ChannelLink;
  /** The link to one session's history and the events sent to it. */
  session(sessionId: string, options: SessionLinkOptions): SessionLink;
}

/**
 * `connecting` until the first connection is ready, `connected` while it is, `reconnecting` while Redis (or whatever
 * the backplane runs on) is unreachable, and `closed` after `close()`.
 *
 * @example
 * ```ts
 * backplane.state$.subscribe((state: BackplaneState) => console.log("backplane", state));
 * ```
 */
export type BackplaneState = "connecting" | "connected" | "reconnecting" | "closed";

/** One event as the backplane keeps it: its cluster-wide id, its data and its name. */
export interface BackplaneEvent {
  readonly id: EventId;
  readonly data: string;
  readonly event: string | undefined;
}

/** What a channel link returns when it starts following: the kept events, and from which id on they are complete. */
export interface FollowResult {
  readonly events: readonly BackplaneEvent[];
  /** Every event after this id is among `events` or comes to the feed. */
  readonly floor: EventId;
}

/** The events of a history after a given id, or why they cannot all be had. */
export type BackplaneReplay =
  | { readonly ok: true; readonly events: readonly BackplaneEvent[] }
  | { readonly ok: false; readonly reason: HistoryGapReason };

/** Where a history's live events arrive on this node. */
export interface BackplaneFeed {
  /** The next event, in order, once. */
  event(event: BackplaneEvent): void;
  /** The backplane lost this history (a Redis restart without persistence, an evicted key): members must resync. */
  lost(): void;
}

/** One channel on the backplane. */
export interface ChannelLink {
  /**
   * Starts delivering the channel's events to `feed`. Resolves with the newest events already kept (at most
   * `keep`), oldest first, before any event reaches the feed; every event after them goes to the feed. Waits for the
   * backplane to connect; resolves with nothing once the link is closed.
   */
  follow(feed: BackplaneFeed, keep: number): Promise<FollowResult>;
  /** Appends one event to the channel; resolves with its id. Rejects with `BACKPLANE_UNAVAILABLE`. */
  publish(data: string, event: string | undefined): Promise<EventId>;
  /**
   * Sends one event to sessions by id, on whichever node holds them, and keeps it in their histories (not the
   * channel's). Resolves with its id. Rejects with `BACKPLANE_UNAVAILABLE`.
   */
  publishTo(sessionIds: readonly string[], data: string, event: string | undefined): Promise<EventId>;
  /**
   * The channel's kept events after `after`, up to `upTo` inclusive (requests of one tick share one read). A node
   * asks only up to what it has already handed out: everything newer reaches its sessions live, in order, so a
   * replay never runs ahead of the live stream of another channel. With `upTo` equal to `after`, it only checks that
   * the backplane can vouch for `after` (`unknown` when no event had that id yet, `too-old` when history was lost).
   */
  replay(after: EventId, upTo: EventId): Promise<BackplaneReplay>;
  /** How many members this node has; the backplane adds the counts of every live node. */
  reportMembers(count: number): void;
  /** The channel's members on every live node. */
  countAll(): Promise<number>;
  /** Stops following and withdraws this node's member count. */
  close(): void;
}

/** How a session's history is kept on the backplane. */
export interface SessionLinkOptions {
  /** True for an explicit `sessionId`: only then is there a history to keep and resume. */
  readonly explicit: boolean;
  readonly historySize: number;
  /** Milliseconds the history is kept after the last write while no session with the id is open. */
  readonly historyTtl: number;
}

/** One open session on the backplane. */
export interface SessionLink {
  /**
   * Opens the session on this node: events sent to its id arrive at `feed` from now on. Resolves with its kept
   * events after `after` (an id, or a text that is not one), or the newest `replayLast` when `after` is undefined;
   * undefined when there is nothing to replay. The replay holds only events that will not also reach `feed`, so
   * replayed and live events meet without overlap.
   */
  open(
    feed: BackplaneFeed,
    after: string | EventId | undefined,
    replayLast: number,
  ): Promise<BackplaneReplay | undefined>;
  /** Sends one event to this session's id (every node that holds it) and keeps it in its history. */
  send(data: string, event: string | undefined): Promise<EventId>;
  /** The session closed on this node: its history starts its TTL when no node holds it any more. */
  close(): void;
}

/**
 * What `sendMessage`, `broadcastAll` and `broadcastSome` return: the event id at once in one process, or a promise of
 * it on a backplane, where the id comes back with the write (and the promise rejects with `BACKPLANE_UNAVAILABLE`
 * when the backplane cannot take it).
 */
export type SendResult<TBackplane extends Backplane | undefined> = TBackplane extends Backplane
  ? Promise<string>
  : string;
