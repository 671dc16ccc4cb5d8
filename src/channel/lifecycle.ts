import type { SessionClosedEvent } from "../session/lifecycle.js";

/**
 * One event broadcast on a channel, as its observable and `broadcast-success` report it.
 *
 * @example
 * ```ts
 * broadcastStream.subscribe((event: ChannelEvent) => audit.log(event.id, event.event, event.data));
 * ```
 */
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

/**
 * Emitted as `session-registered` after a session joined the channel (and got its replay).
 *
 * @example
 * ```ts
 * broadcastStream.on("session-registered", ({ sessionId }: SessionRegisteredEvent) => console.log("joined", sessionId));
 * ```
 */
export interface SessionRegisteredEvent {
  readonly type: "session-registered";
  readonly channelId: string;
  readonly sessionId: string;
}

/**
 * Why a session left a channel: `deregister` (by `deregister()` or by unsubscribing the membership),
 * `session-closed` (the session ended), `replaced` (another session with the same id registered),
 * `channel-closed` (the channel was closed).
 *
 * @example
 * ```ts
 * broadcastStream.on("session-deregistered", ({ reason }) => {
 *   if (reason === "replaced") console.log("a newer connection took this place");
 * });
 * ```
 */
export type DeregisterReason = "deregister" | "session-closed" | "replaced" | "channel-closed";

/**
 * Emitted as `session-deregistered` when a session leaves the channel, whatever the reason.
 *
 * @example
 * ```ts
 * broadcastStream.on("session-deregistered", ({ sessionId, reason }: SessionDeregisteredEvent) => console.log(sessionId, reason));
 * ```
 */
export interface SessionDeregisteredEvent {
  readonly type: "session-deregistered";
  readonly channelId: string;
  readonly sessionId: string;
  readonly reason: DeregisterReason;
}

/**
 * Emitted as `broadcast-success` after a broadcast was queued for every receiver.
 *
 * @example
 * ```ts
 * broadcastStream.on("broadcast-success", ({ id, recipients }: BroadcastSuccessEvent) => console.log(id, recipients));
 * ```
 */
export interface BroadcastSuccessEvent extends ChannelEvent {
  readonly type: "broadcast-success";
  /** How many sessions it was queued for. */
  readonly recipients: number;
}

/**
 * Emitted as `source-error` when an observable given to `broadcastFrom` errors or emits a value that cannot be
 * sent. The rule for channels: that source's subscription ends; the channel and its sessions stay open.
 *
 * @example
 * ```ts
 * broadcastStream.on("source-error", ({ channelId, error }: ChannelSourceErrorEvent) => console.error(channelId, error));
 * ```
 */
export interface ChannelSourceErrorEvent {
  readonly type: "source-error";
  readonly channelId: string;
  readonly error: unknown;
}

/**
 * A member's `session-closed`, re-emitted by the channel (the seed API emits it on both).
 *
 * @example
 * ```ts
 * broadcastStream.on("session-closed", ({ sessionId, reason }: ChannelSessionClosedEvent) => console.log(sessionId, reason));
 * ```
 */
export interface ChannelSessionClosedEvent extends Omit<SessionClosedEvent, "type"> {
  readonly type: "session-closed";
  readonly channelId: string;
}

/**
 * Every lifecycle event a channel emits.
 *
 * @example
 * ```ts
 * const log = (event: ChannelLifecycleEvent) => console.log(event.type, event.channelId);
 * ```
 */
export type ChannelLifecycleEvent =
  | SessionRegisteredEvent
  | SessionDeregisteredEvent
  | BroadcastSuccessEvent
  | ChannelSourceErrorEvent
  | ChannelSessionClosedEvent;

/**
 * The EventEmitter events of a channel, with their listener arguments.
 *
 * @example
 * ```ts
 * type Registered = ChannelEmitterEvents["session-registered"]; // [event: SessionRegisteredEvent]
 * ```
 */
export type ChannelEmitterEvents = {
  [E in ChannelLifecycleEvent as E["type"]]: [event: E];
};
