import { EventEmitter } from "node:events";
import {
  BehaviorSubject,
  EmptyError,
  lastValueFrom,
  Observable,
  type Operator,
  observable as observableKey,
  Subject,
  type Subscribable,
  Subscription,
} from "rxjs";
import { encodeEvent } from "../encode.js";
import { EventFlareError } from "../errors.js";
import { History } from "../history/History.js";
import { formatEventId, processIds } from "../ids.js";
import { messageToData } from "../message.js";
import {
  type BroadcastStreamOptions,
  type ResolvedBroadcastStreamOptions,
  resolveBroadcastStreamOptions,
} from "../options.js";
import { type EventMap, Session } from "../session/Session.js";
import type { ChannelEmitterEvents, ChannelEvent, ChannelLifecycleEvent, DeregisterReason } from "./lifecycle.js";

/** Chooses sessions for `broadcastSome`: a list of sessions (or their ids), or a predicate over the members. */
export type SessionSelector<TEvents extends EventMap = EventMap> =
  | Iterable<Session<TEvents> | string>
  | ((session: Session<TEvents>) => boolean);

/**
 * A session's membership in a channel: the Subscription `register` returns. One object per member, with no
 * closures: unsubscribing it (by the application, `deregister`, the session closing or the channel closing) is the
 * single way out, and tells the channel once.
 */
class Membership<TEvents extends EventMap> extends Subscription {
  /** Set just before unsubscribing, so the channel can report why; otherwise derived from the session. */
  leaving: DeregisterReason | undefined = undefined;

  constructor(
    private readonly channel: BroadcastStream<TEvents>,
    readonly session: Session<TEvents>,
  ) {
    super();
  }

  override unsubscribe(): void {
    if (this.closed) return;
    super.unsubscribe();
    this.session.release(this);
    this.channel.memberLeft(this);
  }
}

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
export class BroadcastStream<TEvents extends EventMap = EventMap>
  extends EventEmitter<ChannelEmitterEvents>
  implements Subscribable<ChannelEvent>
{
  /** The channel id given to the constructor. */
  readonly channelId: string;
  private readonly options: ResolvedBroadcastStreamOptions;
  private readonly history: History;
  /** The public multicast of channel events, created on first subscription. */
  private events: Subject<ChannelEvent> | undefined;
  /** The members by session id, in registration order; a broadcast hands one frame object to each. */
  private readonly members = new Map<string, Membership<TEvents>>();
  /** The member count as an observable, created on first use. */
  private connections: BehaviorSubject<number> | undefined;
  /** Sources given to `broadcastFrom`, ended by `close()`. */
  private readonly sources = new Subscription();
  private closed = false;

  /**
   * @param channelId The channel's name.
   * @param options See {@link BroadcastStreamOptions}; every option has a default.
   * @throws EventFlareError `INVALID_ARGUMENT` for a channel id that is not a non-empty string, `INVALID_OPTION` for a bad option.
   */
  constructor(channelId: string, options?: BroadcastStreamOptions) {
    super();
    if (typeof channelId !== "string" || channelId.length === 0) {
      throw new EventFlareError("INVALID_ARGUMENT", "BroadcastStream needs a channel id: a non-empty string.", {
        field: "channelId",
      });
    }
    this.channelId = channelId;
    this.options = resolveBroadcastStreamOptions(options);
    const scheduler = this.options.scheduler;
    this.history = new History(this.options.historySize, this.options.historyMaxAge, () => scheduler.now());
  }

  /**
   * Adds a session to the channel. A session whose request carried a Last-Event-ID first receives every kept
   * channel event after it (or a `history-gap` signal when the history cannot cover it), then live events.
   * A session without one gets no replay, unless the channel's `replayLast` option asks for the newest events.
   *
   * A session with the same id as a current member replaces it (the old membership ends with reason `replaced`).
   * The membership ends when the session closes.
   *
   * @returns The membership. Unsubscribing it is the one way out; `deregister(sessionId)` does exactly that.
   * @throws EventFlareError `SESSION_CLOSED` for a closed session, `ALREADY_REGISTERED` when this session is already
   * a member, `INVALID_ARGUMENT` for something that is not a Session, `CHANNEL_CLOSED` after `close()`.
   */
  register(session: Session<TEvents>): Subscription {
    this.assertOpen();
    if (!(session instanceof Session)) {
      throw new EventFlareError("INVALID_ARGUMENT", "register() takes a Session created with new Session(req, res).", {
        field: "session",
      });
    }
    const sessionId = session.getSessionId();
    if (session.getConnectionState() !== "CONNECTED") {
      throw new EventFlareError(
        "SESSION_CLOSED",
        `Session ${sessionId} is closed and cannot join channel "${this.channelId}". Register sessions as they connect.`,
      );
    }
    const current = this.members.get(sessionId);
    if (current?.session === session) {
      throw new EventFlareError(
        "ALREADY_REGISTERED",
        `Session ${sessionId} is already registered in channel "${this.channelId}".`,
      );
    }
    if (current !== undefined) this.leave(current, "replaced");
    // Replay and joining happen in one synchronous step: no broadcast can fall between them.
    this.replayTo(session);
    const membership = new Membership(this, session);
    this.members.set(sessionId, membership);
    this.connections?.next(this.members.size);
    session.hold(membership);
    this.dispatch({ type: "session-registered", channelId: this.channelId, sessionId });
    return membership;
  }

  /**
   * Removes the session with this id from the channel (the session itself stays open).
   * @returns true when it was a member, false otherwise (an unknown id is a no-op).
   */
  deregister(sessionId: string): boolean {
    const member = this.members.get(sessionId);
    if (member === undefined) return false;
    this.leave(member, "deregister");
    return true;
  }

  /** The number of sessions registered in the channel. */
  getActiveConnections(): number {
    return this.members.size;
  }

  /**
   * The number of registered sessions: the current count at once, then every change; completes when the
   * channel closes. Useful to start an upstream only while somebody listens.
   */
  get activeConnections$(): Observable<number> {
    if (this.connections === undefined) {
      this.connections = new BehaviorSubject(this.members.size);
      if (this.closed) this.connections.complete();
    }
    return this.connections.asObservable();
  }

  /** True when a session with this id is registered. */
  has(sessionId: string): boolean {
    return this.members.has(sessionId);
  }

  /**
   * Sends one event to every registered session and keeps it in the channel history.
   *
   * @param msg The data. A string is sent as it is; any other value is sent as JSON.
   * @param eventName The SSE event name. Defaults to none (clients see a `message` event).
   * @returns The event id, the same for every receiver.
   * @throws EventFlareError `INVALID_FIELD`, `INVALID_MESSAGE` or `CHANNEL_CLOSED`; nothing is sent when it throws.
   */
  broadcastAll<K extends keyof TEvents & string>(msg: TEvents[K], eventName?: K): string {
    this.assertOpen();
    const data = messageToData(msg);
    const id = processIds.next();
    const idText = formatEventId(id);
    const entry = this.history.append(id, Buffer.from(encodeEvent({ data, event: eventName, id: idText })));
    let recipients = 0;
    for (const member of this.members.values()) if (member.session.deliver(entry)) recipients += 1;
    this.announce({ channelId: this.channelId, id: idText, event: eventName, data, targets: undefined }, recipients);
    return idText;
  }

  /**
   * Sends one event to some of the registered sessions: a list of sessions (or session ids), or a predicate over
   * the members. The event is kept in each receiver's own session history, not in the channel history, so it is
   * never replayed to anyone else.
   *
   * Closed sessions in a list are skipped (they may close at any moment); an empty list or a predicate that
   * matches nobody sends nothing. An open session that is not a member is an error.
   *
   * @returns The event id.
   * @throws EventFlareError `NOT_REGISTERED` for an open session (or id) that is not a member, `PREDICATE_FAILED`
   * when the predicate throws, `INVALID_FIELD`, `INVALID_MESSAGE` or `CHANNEL_CLOSED`. Nothing is sent when it throws.
   */
  broadcastSome<K extends keyof TEvents & string>(
    msg: TEvents[K],
    sessions: SessionSelector<TEvents>,
    eventName?: K,
  ): string {
    this.assertOpen();
    const targets = this.select(sessions);
    const data = messageToData(msg);
    const id = processIds.next();
    const idText = formatEventId(id);
    const frame = { id, frame: Buffer.from(encodeEvent({ data, event: eventName, id: idText })) };
    let recipients = 0;
    for (const member of targets) if (member.session.deliverAndRecord(frame)) recipients += 1;
    const targetIds = targets.map((member) => member.session.getSessionId());
    this.announce({ channelId: this.channelId, id: idText, event: eventName, data, targets: targetIds }, recipients);
    return idText;
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
    const subscription = new Subscription();
    this.sources.add(subscription);
    subscription.add(() => this.sources.remove(subscription));
    subscription.add(
      source$.subscribe({
        next: (value) => {
          try {
            this.broadcastAll(value, eventName);
          } catch (error) {
            this.failSource(error);
            subscription.unsubscribe();
          }
        },
        error: (error: unknown) => this.failSource(error),
      }),
    );
    return subscription;
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
    for (const member of [...this.members.values()]) this.leave(member, "channel-closed");
    this.events?.complete();
    this.connections?.complete();
  }

  /** Subscribes to the channel's events (the multicast observable). */
  readonly subscribe: Observable<ChannelEvent>["subscribe"] = (...args: unknown[]) =>
    (this.asObservable().subscribe as (...a: unknown[]) => Subscription)(...args);

  /** Pipes the channel's events through operators, like any observable. */
  readonly pipe: Observable<ChannelEvent>["pipe"] = (...operators: unknown[]) =>
    (this.asObservable().pipe as (...ops: unknown[]) => Observable<unknown>)(...operators) as never;

  /** Calls `next` for each event until the channel closes; like `Observable.forEach`. */
  forEach(next: (value: ChannelEvent) => void): Promise<void> {
    return this.asObservable().forEach(next);
  }

  /** @deprecated Kept so the channel is structurally an RxJS `Observable`; use `lastValueFrom(channel)`. */
  toPromise(): Promise<ChannelEvent | undefined> {
    return lastValueFrom(this.asObservable()).catch((error: unknown) => {
      if (error instanceof EmptyError) return undefined;
      throw error;
    });
  }

  /** @internal Part of RxJS's Observable shape; the channel is a source, not a lifted observable. */
  readonly source: Observable<unknown> | undefined = undefined;
  /** @internal Part of RxJS's Observable shape. */
  readonly operator: Operator<unknown, ChannelEvent> | undefined = undefined;

  /** @internal Lets RxJS treat the channel as an observable (`isObservable`, operators that lift). */
  lift<R>(operator?: Operator<ChannelEvent, R>): Observable<R> {
    const lifted = new Observable<R>();
    (lifted as unknown as { source: Observable<ChannelEvent> }).source = this.asObservable();
    (lifted as unknown as { operator: Operator<ChannelEvent, R> | undefined }).operator = operator;
    return lifted;
  }

  /** The channel's events as a plain RxJS Observable (hot; completes when the channel closes). */
  asObservable(): Observable<ChannelEvent> {
    if (this.events === undefined) {
      this.events = new Subject<ChannelEvent>();
      if (this.closed) this.events.complete();
    }
    return this.events.asObservable();
  }

  /** Interop: `from(channel)` works. RxJS's key is `Symbol.observable` where defined, else `"@@observable"`. */
  [observableKey](): Subscribable<ChannelEvent> {
    return this;
  }

  private replayTo(session: Session<TEvents>): void {
    const lastEventId = session.lastEventId;
    if (lastEventId === undefined) {
      if (this.options.replayLast > 0) session.deliverReplay(this.history.last(this.options.replayLast));
      return;
    }
    const result = this.history.after(lastEventId, processIds);
    if (result.ok) session.deliverReplay(result.entries);
    else session.signalGap(`channel:${this.channelId}`, result.reason);
  }

  private select(sessions: SessionSelector<TEvents>): Membership<TEvents>[] {
    if (typeof sessions === "function") {
      const chosen: Membership<TEvents>[] = [];
      for (const member of this.members.values()) {
        let pick: boolean;
        try {
          pick = sessions(member.session);
        } catch (cause) {
          throw new EventFlareError(
            "PREDICATE_FAILED",
            `The broadcastSome predicate threw for session ${member.session.getSessionId()}; nothing was sent.`,
            { cause },
          );
        }
        if (pick) chosen.push(member);
      }
      return chosen;
    }
    if (sessions === null || typeof (sessions as Iterable<unknown>)[Symbol.iterator] !== "function") {
      throw new EventFlareError(
        "INVALID_ARGUMENT",
        "broadcastSome takes a list of sessions (or session ids) or a predicate.",
        { field: "sessions" },
      );
    }
    const chosen = new Set<Membership<TEvents>>();
    for (const item of sessions) {
      const session = typeof item === "string" ? undefined : item;
      const sessionId = typeof item === "string" ? item : item?.getSessionId?.();
      if (typeof sessionId !== "string") {
        throw new EventFlareError("INVALID_ARGUMENT", "broadcastSome lists must hold sessions or session ids.", {
          field: "sessions",
        });
      }
      const member = this.members.get(sessionId);
      if (member !== undefined && (session === undefined || member.session === session)) {
        chosen.add(member);
      } else if (session === undefined || session.getConnectionState() === "CONNECTED") {
        throw new EventFlareError(
          "NOT_REGISTERED",
          `Session ${sessionId} is not registered in channel "${this.channelId}"; register it first. Nothing was sent.`,
        );
      }
    }
    return [...chosen];
  }

  private leave(member: Membership<TEvents>, reason: DeregisterReason): void {
    member.leaving = reason;
    member.unsubscribe();
  }

  /** @internal The membership's teardown: the single place a member is removed, whichever way it leaves. */
  memberLeft(member: Membership<TEvents>): void {
    const sessionId = member.session.getSessionId();
    if (this.members.get(sessionId) === member) {
      this.members.delete(sessionId);
      this.connections?.next(this.members.size);
    }
    const closedEvent = member.session.closeEvent;
    const reason = member.leaving ?? (closedEvent !== undefined ? "session-closed" : "deregister");
    if (reason === "session-closed" && closedEvent !== undefined) {
      this.dispatch({ ...closedEvent, type: "session-closed", channelId: this.channelId });
    }
    this.dispatch({ type: "session-deregistered", channelId: this.channelId, sessionId, reason });
  }

  private announce(event: ChannelEvent, recipients: number): void {
    this.events?.next(event);
    this.dispatch({ type: "broadcast-success", ...event, recipients });
  }

  private failSource(error: unknown): void {
    if (this.listenerCount("source-error") === 0) {
      process.emitWarning(`event-flare: a source broadcast on channel "${this.channelId}" failed: ${String(error)}`, {
        code: "EVENT_FLARE_SOURCE_ERROR",
      });
    }
    this.dispatch({ type: "source-error", channelId: this.channelId, error });
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new EventFlareError(
        "CHANNEL_CLOSED",
        `Channel "${this.channelId}" was closed; create a new BroadcastStream.`,
      );
    }
  }

  /** The one place channel lifecycle events are published to EventEmitter listeners. */
  private dispatch(event: ChannelLifecycleEvent): void {
    (this.emit as (name: string, event: ChannelLifecycleEvent) => boolean)(event.type, event);
  }
}
