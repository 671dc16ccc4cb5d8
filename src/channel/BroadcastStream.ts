import { type Observable, Subscription } from "rxjs";
import type { Backplane, SendResult } from "../backplane/Backplane.js";
import { describeError, escapeForLog } from "../describe.js";
import { assertFieldValue } from "../encode.js";
import { EventFlareError } from "../errors.js";
import { messageToData } from "../message.js";
import {
  type BackplaneOption,
  type BroadcastStreamOptions,
  DEFAULTS,
  type ResolvedBroadcastStreamOptions,
  resolveBroadcastStreamOptions,
} from "../options.js";
import { emitSafely } from "../reportError.js";
import type { EventMap } from "../session/Session.js";
import { admitSession, type RegistrableSession } from "./admission.js";
import { BackplaneDelivery } from "./BackplaneDelivery.js";
import type { ChannelDelivery } from "./ChannelDelivery.js";
import { RecentDepartures } from "./departures.js";
import { forwardSource } from "./forwardSource.js";
import { LocalDelivery } from "./LocalDelivery.js";
import type { ChannelEmitterEvents, ChannelEvent, ChannelLifecycleEvent, DeregisterReason } from "./lifecycle.js";
import { Membership } from "./Membership.js";
import { MemberCount } from "./memberCount.js";
import { ObservableEmitter } from "./ObservableEmitter.js";
import { openChannels } from "./openChannels.js";
import { type SessionSelector, selectMembers } from "./selectMembers.js";

/**
 * A broadcast channel: sessions register, and every broadcast reaches all of them (or the chosen ones).
 *
 * The channel is a multicast observable of its {@link ChannelEvent}s: subscribe to it to audit, log or pipe what
 * is broadcast. It is hot (late subscribers see only later events; history replay is for sessions) and it never
 * resets: a channel keeps its history and ids whether or not anyone is registered, so a client that reconnects
 * after everyone left still resumes where it stopped.
 *
 * Each broadcast is encoded once, into one Buffer handed to every session, and kept in the channel's history
 * (`historySize` events, optionally `historyMaxAge`). A session registering with a Last-Event-ID first receives
 * every kept event after it, then live events, with no duplicate and no gap at the handover.
 *
 * ## Example
 * ```ts
 * const prices = new BroadcastStream("AAPL-subscribers");
 * app.get("/prices", (req, res) => prices.register(new Session(req, res)));
 * prices.broadcastAll(JSON.stringify({ stockName: "AAPL", currentStockPrice: "245.65" }));
 * prices.subscribe((event) => audit.log(event.id, event.data));
 * ```
 */
// No `implements ChannelHost`: its members are internal and stripped from the published declarations, where the
// clause would fail a consumer's library check. The channel is checked structurally where it hands itself over.
export class BroadcastStream<
  TEvents extends EventMap = EventMap,
  TBackplane extends Backplane | undefined = undefined,
> extends ObservableEmitter<ChannelEvent, ChannelEmitterEvents> {
  /** The channel id given to the constructor. */
  readonly channelId: string;
  private readonly options: ResolvedBroadcastStreamOptions;
  /** Where the channel's events are numbered, kept and delivered: in this process, or on a backplane. */
  private readonly delivery: ChannelDelivery<TEvents>;
  /** The members by session id, in registration order; a broadcast hands one frame object to each. */
  private readonly memberships = new Map<string, Membership<TEvents>>();
  /** The member count as an observable. */
  private readonly count = new MemberCount(() => this.memberships.size);
  /** Sources given to `broadcastFrom`, ended by `close()`; each is released when it completes or fails. */
  private readonly sources = new Subscription();
  /** Ids of members that left lately: `broadcastSome` skips them rather than calling them unknown. */
  private readonly departures: RecentDepartures;
  private closed = false;
  /** This channel's entry among the open channels (for metrics and closeAllSessions). */
  private readonly registration: WeakRef<BroadcastStream<TEvents, TBackplane>>;

  /**
   * @param channelId The channel's name.
   * @param options See {@link BroadcastStreamOptions}; every option has a default.
   * @throws EventFlareError `INVALID_ARGUMENT` for a channel id that is not a non-empty string, `INVALID_OPTION` for a bad option.
   */
  constructor(channelId: string, options?: BroadcastStreamOptions & BackplaneOption<TBackplane>) {
    super();
    if (typeof channelId !== "string" || channelId.length === 0) {
      throw new EventFlareError("INVALID_ARGUMENT", "BroadcastStream needs a channel id: a non-empty string.", {
        field: "channelId",
      });
    }
    this.channelId = channelId;
    this.options = resolveBroadcastStreamOptions(options);
    const { scheduler, backplane } = this.options;
    this.departures = new RecentDepartures(DEFAULTS.historyTtl, DEPARTURES_KEPT, () => scheduler.now());
    this.delivery =
      backplane === undefined
        ? new LocalDelivery(this, this.options)
        : new BackplaneDelivery(this, this.options, backplane);
    this.registration = new WeakRef(this);
    openChannels.add(this.registration);
  }

  /**
   * Adds a session to the channel. A session whose request carried a Last-Event-ID first receives every kept
   * channel event after it (or a `history-gap` signal when the history cannot cover it), then live events. The
   * replay starts after the newest event the session was already sent, so leaving and joining again never repeats
   * an event. A session without a Last-Event-ID gets no replay, unless the channel's `replayLast` option asks for it.
   *
   * One member per `sessionId`: a session with the id of a current member replaces it. The old membership ends
   * with reason `replaced`, and the old session is sent a final `session-replaced` event and closed with reason
   * `replaced`. The membership ends when the session closes.
   *
   * @returns The membership. Unsubscribing it is the one way out; `deregister(sessionId)` does exactly that.
   * @throws EventFlareError `SESSION_CLOSED` for a closed session, `ALREADY_REGISTERED` when this session is already
   * a member, `INVALID_ARGUMENT` for something that is not a Session, `CHANNEL_CLOSED` after `close()`.
   */
  register(session: RegistrableSession<TEvents, TBackplane>): Subscription {
    this.assertOpen();
    const member = admitSession<TEvents>(session, this.channelId, this.options.backplane);
    const sessionId = member.getSessionId();
    const current = this.memberships.get(sessionId);
    if (current?.session === member) {
      throw new EventFlareError(
        "ALREADY_REGISTERED",
        `Session ${escapeForLog(sessionId)} is already registered in channel "${escapeForLog(this.channelId)}".`,
      );
    }
    // Replay and joining happen in one synchronous step: no broadcast can fall between them.
    this.delivery.replayTo(member);
    const membership = new Membership(this, member);
    // The new member takes the slot before the old one leaves, so a replacement never shows as a change in count.
    this.memberships.set(sessionId, membership);
    this.departures.delete(sessionId);
    member.hold(membership);
    if (current !== undefined) {
      this.leave(current, "replaced");
      current.session.replaced();
    }
    this.countChanged();
    this.dispatch({ type: "session-registered", channelId: this.channelId, sessionId });
    return membership;
  }

  /**
   * Removes the session with this id from the channel (the session itself stays open).
   * @returns true when it was a member, false otherwise (an unknown id is a no-op).
   */
  deregister(sessionId: string): boolean {
    const member = this.memberships.get(sessionId);
    if (member === undefined) return false;
    this.leave(member, "deregister");
    return true;
  }

  /** The number of sessions registered in the channel. */
  getActiveConnections(): number {
    return this.memberships.size;
  }

  /**
   * The number of registered sessions: the current count at once, then every change; completes when the
   * channel closes. Useful to start an upstream only while somebody listens.
   */
  get activeConnections$(): Observable<number> {
    return this.count.changes$;
  }

  /** True when a session with this id is registered. */
  has(sessionId: string): boolean {
    return this.memberships.has(sessionId);
  }

  /**
   * Sends one event to every registered session and keeps it in the channel history.
   *
   * @param msg The data. A string is sent as it is; any other value is sent as JSON.
   * @param eventName The SSE event name. Defaults to none (clients see a `message` event).
   * @returns The event id, the same for every receiver.
   * @throws EventFlareError `INVALID_FIELD`, `INVALID_MESSAGE` or `CHANNEL_CLOSED`; nothing is sent when it throws.
   */
  broadcastAll<K extends keyof TEvents & string>(msg: TEvents[K], eventName?: K): SendResult<TBackplane> {
    this.assertOpen();
    const data = messageToData(msg);
    if (eventName !== undefined) assertFieldValue("event", eventName);
    return this.delivery.broadcast(data, eventName) as SendResult<TBackplane>;
  }

  /**
   * Sends one event to some of the registered sessions: a list of sessions (or session ids), or a predicate over
   * the members. The event is kept in each receiver's own session history, not in the channel history, so it is
   * never replayed to anyone else.
   *
   * Closed sessions in a list are skipped (they may close at any moment), and so are ids of members that left lately
   * (within the last 5 minutes, and among the last 10,000 to leave); when such an id has a session history waiting
   * for its reconnect (an explicit `sessionId` within its `historyTtl`), the event is kept there and replayed when
   * the client comes back. An empty list or a predicate that matches nobody sends nothing. An open session, or an
   * id, that never was a member is an error.
   *
   * @returns The event id.
   * @throws EventFlareError `NOT_REGISTERED` for an open session (or id) that is not a member, `PREDICATE_FAILED`
   * when the predicate throws, `INVALID_FIELD`, `INVALID_MESSAGE` or `CHANNEL_CLOSED`. Nothing is sent when it throws.
   */
  broadcastSome<K extends keyof TEvents & string>(
    msg: TEvents[K],
    sessions: SessionSelector<TEvents>,
    eventName?: K,
  ): SendResult<TBackplane> {
    this.assertOpen();
    const anywhere = this.options.backplane !== undefined;
    const { members, elsewhere } = selectMembers(sessions, this.memberships, this.departures, this.channelId, anywhere);
    const data = messageToData(msg);
    if (eventName !== undefined) assertFieldValue("event", eventName);
    return this.delivery.broadcastTo(members, elsewhere, data, eventName) as SendResult<TBackplane>;
  }

  /**
   * Broadcasts every value of `source$` to all members (as {@link broadcastAll} would) until the subscription is
   * unsubscribed or the channel is closed. The source keeps running while nobody is registered, so history stays
   * complete for clients that reconnect later.
   *
   * Error rule: when `source$` errors or emits a value that cannot be sent, the channel emits `source-error` and
   * that source's subscription ends; the channel and its sessions stay open.
   */
  broadcastFrom<K extends keyof TEvents & string>(source$: Observable<TEvents[K]>, eventName?: K): Subscription {
    this.assertOpen();
    const send = (value: TEvents[K]): string | Promise<string> => this.broadcastAll(value, eventName);
    return forwardSource(source$, this.sources, send, (error) => this.failSource(error));
  }

  /**
   * Closes the channel: every membership ends (reason `channel-closed`; the sessions stay open), every
   * `broadcastFrom` source is unsubscribed, and the channel observable completes. Later calls throw
   * `CHANNEL_CLOSED`, except `deregister`, `getActiveConnections` and `close`, which stay harmless.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sources.unsubscribe();
    for (const member of [...this.memberships.values()]) this.leave(member, "channel-closed");
    this.countChanged();
    this.delivery.close();
    openChannels.delete(this.registration);
    this.endEvents();
    this.count.end();
  }

  /**
   * The sessions registered in the channel on every node: on a backplane, the sum of every live node's count (a node
   * that stops reporting drops out within seconds); in one process, {@link getActiveConnections}.
   */
  countAll(): Promise<number> {
    return this.delivery.countAll();
  }

  /** @internal The members on this node, in registration order (for the delivery). */
  members(): IterableIterator<Membership<TEvents>> {
    return this.memberships.values();
  }

  private leave(member: Membership<TEvents>, reason: DeregisterReason): void {
    member.leaving = reason;
    member.unsubscribe();
  }

  /** @internal The membership's teardown: the single place a member is removed, whichever way it leaves. */
  memberLeft(member: Membership<TEvents>): void {
    const sessionId = member.session.getSessionId();
    if (this.memberships.get(sessionId) === member) {
      this.memberships.delete(sessionId);
      this.departures.add(sessionId);
      if (member.leaving !== "channel-closed") this.countChanged();
    }
    const closedEvent = member.session.closeEvent;
    const reason = member.leaving ?? (closedEvent !== undefined ? "session-closed" : "deregister");
    if (reason === "session-closed" && closedEvent !== undefined) {
      this.dispatch({ ...closedEvent, type: "session-closed", channelId: this.channelId });
    }
    this.dispatch({ type: "session-deregistered", channelId: this.channelId, sessionId, reason });
  }

  /** `activeConnections$` emits the member count when it differs from the last one it emitted. */
  private countChanged(): void {
    this.delivery.membersChanged(this.memberships.size);
    this.count.changed();
  }

  /** @internal Publishes one broadcast on the channel's observable and as `broadcast-success`. */
  announce(event: ChannelEvent, recipients: number): void {
    this.publish(event);
    this.dispatch({ type: "broadcast-success", ...event, recipients });
  }

  private failSource(error: unknown): void {
    if (this.listenerCount("source-error") === 0) {
      process.emitWarning(
        `event-flare: a source broadcast on channel "${escapeForLog(this.channelId)}" failed: ${describeError(error)}`,
        { code: "EVENT_FLARE_SOURCE_ERROR" },
      );
    }
    this.dispatch({ type: "source-error", channelId: this.channelId, error });
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new EventFlareError(
        "CHANNEL_CLOSED",
        `Channel "${escapeForLog(this.channelId)}" was closed; create a new BroadcastStream.`,
      );
    }
  }

  /**
   * The one place channel lifecycle events are published to EventEmitter listeners. A listener that throws stops
   * neither the other listeners nor the broadcast or registration in progress (see `reportListenerError`).
   */
  private dispatch(event: ChannelLifecycleEvent): void {
    emitSafely(this, event.type, event);
  }
}

/** How many departed member ids a channel remembers for `broadcastSome`. */
const DEPARTURES_KEPT = 10_000;
