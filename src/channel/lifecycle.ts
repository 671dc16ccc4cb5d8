import type { SessionClosedEvent } from "../session/lifecycle.js";

/** One event broadcast on a channel, as its observable and `broadcast-success` report it. */
export interface ChannelEvent {
  readonly channelId: string;
  /** The event id, the same for every receiver. */
  readonly id: string;
  /** The event name, when one was given. */
  readonly event: string | undefined;
  /** The data as sent on the wire. */
  readonly data: string;
  /** For `broadcastSome`: the ids of the sessions it was sent to. Undefined for `broadcastAll`. */
  readonly targets: readonly string[] | undefined;
}

/** Emitted as `session-registered` after a session joined the channel (and got its replay). */
export interface SessionRegisteredEvent {
  readonly type: "session-registered";
  readonly channelId: string;
  readonly sessionId: string;
}

/**
 * Why a session left a channel: `deregister` (by `deregister()` or by unsubscribing the membership),
 * `session-closed` (the session ended), `replaced` (another session with the same id registered),
 * `channel-closed` (the channel was closed).
 */
export type DeregisterReason = "deregister" | "session-closed" | "replaced" | "channel-closed";

/** Emitted as `session-deregistered` when a session leaves the channel, whatever the reason. */
export interface SessionDeregisteredEvent {
  readonly type: "session-deregistered";
  readonly channelId: string;
  readonly sessionId: string;
  readonly reason: DeregisterReason;
}

/** Emitted as `broadcast-success` after a broadcast was queued for every receiver. */
export interface BroadcastSuccessEvent extends ChannelEvent {
  readonly type: "broadcast-success";
  /** How many sessions it was queued for. */
  readonly recipients: number;
}

/**
 * Emitted as `source-error` when an observable given to `broadcastFrom` errors or emits a value that cannot be
 * sent. The rule for channels: that source's subscription ends; the channel and its sessions stay open.
 */
export interface ChannelSourceErrorEvent {
  readonly type: "source-error";
  readonly channelId: string;
  readonly error: unknown;
}

/** A member's `session-closed`, re-emitted by the channel (the seed API emits it on both). */
export interface ChannelSessionClosedEvent extends Omit<SessionClosedEvent, "type"> {
  readonly type: "session-closed";
  readonly channelId: string;
}

/** Every lifecycle event a channel emits. */
export type ChannelLifecycleEvent =
  | SessionRegisteredEvent
  | SessionDeregisteredEvent
  | BroadcastSuccessEvent
  | ChannelSourceErrorEvent
  | ChannelSessionClosedEvent;

/** The EventEmitter events of a channel, with their listener arguments. */
export type ChannelEmitterEvents = {
  [E in ChannelLifecycleEvent as E["type"]]: [event: E];
};
