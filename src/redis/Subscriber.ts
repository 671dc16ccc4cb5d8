import type { Subscription } from "rxjs";
import { compareEventIds, type EventId, formatEventId, maxEventId, parseEventId } from "../ids.js";
import type { RedisConnections } from "./connections.js";
import { decodePayload, type EventPayload, parseEntries, parseId, toEvent } from "./replies.js";
import { SCRIPTS } from "./scripts.js";

/** An event handed to a stream's handler. */
export interface DeliveredEvent extends EventPayload {
  readonly id: EventId;
}

/** What the subscriber does with a stream's events. */
export interface StreamHandler {
  /** The next event, in id order across every stream the node follows, once. */
  event(event: DeliveredEvent): void;
  /** Events may have been lost: the stream was created again, trimmed past where this node stood, or deleted. */
  lost(): void;
}

interface Followed {
  readonly handler: StreamHandler;
  /** The id of the last event handled (or the stream's newest entry when following began). */
  position: EventId | undefined;
  /** The position delivery started from (set by {@link Subscriber.start}). */
  startedAt: EventId | undefined;
  /** Resolves once the position is known (set by {@link Subscriber.start}). */
  started: Promise<void>;
  markStarted: () => void;
}

interface Message {
  readonly key: string;
  readonly id: EventId;
  readonly previous: EventId;
  readonly payload: EventPayload;
}

const ZERO: EventId = { ms: 0, seq: 0 };
/** How long a gap that Redis would not let the node read waits before it is tried again. */
const RETRY_MS = 500;

/**
 * The node's one subscriber connection: every stream the node follows (its channels and the direct stream) is a
 * pub/sub channel of the same name, and each event arrives as `<id> <previous id> <JSON>` (see scripts.ts).
 *
 * The streams are the source of truth. An event whose previous id is not the last one handled on its stream means
 * messages were missed (pub/sub drops them across a disconnect, or when Redis cuts off a subscriber that fell too far
 * behind): the gap is read from the stream, and then delivery goes on. After an outage every stream is read from the
 * node's own last-seen id, all at one instant, so nothing falls between the reads. A gap the stream no longer holds
 * (trimmed, or the stream lost and created again) is reported as lost, never skipped.
 *
 * Events are handed out strictly in arrival order, which is id order (one clock issues every id, inside the script
 * that publishes): a session in several channels receives its events in id order, and a catch-up holds back what
 * arrived after it.
 */
export class Subscriber {
  private readonly streams = new Map<string, Followed>();
  private readonly queue: Message[] = [];
  private draining = false;
  /** Set while the node catches up after an outage: arrivals wait behind it. */
  private catchingUp: Promise<void> | undefined;
  private everConnected = false;
  private newestHanded: EventId = ZERO;
  private retry: NodeJS.Timeout | undefined;
  private readonly readySubscription: Subscription;
  private readonly listener = (message: string, channel: string) => this.arrived(channel, message);

  constructor(
    private readonly connections: RedisConnections,
    private readonly clockKey: string,
  ) {
    this.readySubscription = connections.ready$.subscribe(() => {
      if (this.everConnected) this.catchingUp = this.catchUp();
      this.everConnected = true;
    });
  }

  /**
   * Subscribes to `key`. Resolves once subscribed; events arriving before {@link start} gives the position wait.
   * Rejects when the subscriber connection is down.
   */
  async follow(key: string, handler: StreamHandler): Promise<void> {
    let markStarted = () => {};
    const started = new Promise<void>((resolve) => {
      markStarted = resolve;
    });
    this.streams.set(key, { handler, position: undefined, startedAt: undefined, started, markStarted });
    try {
      await this.connections.subscriber.subscribe(key, this.listener);
    } catch (error) {
      this.streams.delete(key);
      throw error;
    }
  }

  /** Sets where `key` stands: events after `position` are handed out. */
  start(key: string, position: EventId): void {
    const followed = this.streams.get(key);
    if (followed === undefined || followed.position !== undefined) return;
    followed.position = position;
    followed.startedAt = position;
    followed.markStarted();
  }

  /**
   * Where `key`'s handler stands as of now: every event of the stream after the id this resolves with reaches the
   * handler from now on (the position now, or, before delivery has started, the position it starts from). Undefined
   * when `key` is not followed.
   */
  handsAfter(key: string): Promise<EventId | undefined> {
    const followed = this.streams.get(key);
    if (followed?.position !== undefined) return Promise.resolve(followed.position);
    return followed === undefined ? Promise.resolve(undefined) : followed.started.then(() => followed.startedAt);
  }

  /** Stops following `key`. */
  remove(key: string): void {
    const followed = this.streams.get(key);
    if (followed === undefined) return;
    this.streams.delete(key);
    followed.markStarted();
    this.connections.subscriber.unsubscribe(key, this.listener).catch(() => {});
  }

  /** Stops every delivery. */
  stop(): void {
    clearTimeout(this.retry);
    this.readySubscription.unsubscribe();
    for (const followed of this.streams.values()) followed.markStarted();
    this.streams.clear();
    this.queue.length = 0;
  }

  private arrived(key: string, text: string): void {
    const first = text.indexOf(" ");
    const second = text.indexOf(" ", first + 1);
    const id = parseEventId(text.slice(0, first));
    const previous = parseEventId(text.slice(first + 1, second));
    const payload = decodePayload(text.slice(second + 1));
    if (first < 0 || second < 0 || id === undefined || previous === undefined || payload === undefined) return;
    this.queue.push({ key, id, previous, payload });
    if (!this.draining) void this.drain();
  }

  /** Hands out queued arrivals in order, reading gaps from their streams first. */
  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        if (this.catchingUp !== undefined) {
          await this.catchingUp;
          this.catchingUp = undefined;
        }
        const message = this.queue[0] as Message;
        const followed = this.streams.get(message.key);
        if (followed?.position === undefined && followed !== undefined) await followed.started;
        if (followed !== undefined && this.streams.get(message.key) === followed) {
          const position = followed.position ?? ZERO;
          const gap = compareEventIds(message.previous, position) !== 0;
          // A gap that cannot be read now is read by the catch-up after the outage, or by the next gap check: the
          // message waits for it rather than jump over it.
          const filled = compareEventIds(message.id, position) <= 0 || !gap || (await this.fillGap(message, followed));
          if (filled && compareEventIds(message.id, followed.position ?? ZERO) > 0) {
            this.hand(followed, message.id, message.payload);
          }
        }
        this.queue.shift();
      }
    } finally {
      this.draining = false;
    }
  }

  /** The newest id handed out on any stream. */
  get newest(): EventId {
    return this.newestHanded;
  }

  private hand(followed: Followed, id: EventId, payload: EventPayload): void {
    followed.position = id;
    if (compareEventIds(id, this.newestHanded) > 0) this.newestHanded = id;
    followed.handler.event({ id, ...payload });
  }

  /** Reads what the message's stream holds between where this node stands and the message, and hands it out. */
  private async fillGap(message: Message, followed: Followed): Promise<boolean> {
    const from = followed.position ?? ZERO;
    const { key, id } = message;
    let reply: unknown;
    try {
      reply = await this.connections.run(
        SCRIPTS.replay,
        [this.clockKey, key],
        [formatEventId(from), formatEventId(id)],
      );
    } catch {
      // Unreadable now. After an outage the catch-up reads it; while connected (Redis refused the read), a catch-up
      // is tried again shortly, so a quiet channel does not hold the gap until its next event.
      if (this.connections.state === "connected" && this.retry === undefined) {
        this.retry = setTimeout(() => {
          this.retry = undefined;
          this.catchingUp = this.catchUp();
        }, RETRY_MS);
        this.retry.unref();
      }
      return false;
    }
    this.handStanding(key, followed, from, reply);
    return true;
  }

  /** After an outage: every stream, read at one instant from where this node stood, merged in id order. */
  private async catchUp(): Promise<void> {
    const keys = [...this.streams.keys()].filter((key) => this.streams.get(key)?.position !== undefined);
    if (keys.length === 0) return;
    // The client subscribes again on its own after reconnecting; a subscription of our own, acknowledged after those,
    // makes sure they are in place before the streams are read, so nothing published in between is missed.
    const sync = `${this.clockKey}:sync`;
    const noop = () => {};
    try {
      await this.connections.subscriber.subscribe(sync, noop);
      await this.connections.subscriber.unsubscribe(sync, noop);
    } catch {
      return;
    }
    const positions = keys.map((key) => this.streams.get(key)?.position ?? ZERO);
    let replies: unknown[];
    try {
      replies = (await this.connections.run(
        SCRIPTS.catchUp,
        [this.clockKey, ...keys],
        positions.map(formatEventId),
      )) as unknown[];
    } catch {
      return;
    }
    const batch: { key: string; id: EventId; payload: EventPayload }[] = [];
    keys.forEach((key, i) => {
      const followed = this.streams.get(key);
      if (followed === undefined) return;
      for (const event of this.standing(followed, positions[i] ?? ZERO, replies[i])) batch.push({ key, ...event });
    });
    batch.sort((a, b) => compareEventIds(a.id, b.id));
    for (const { key, id, payload } of batch) {
      const followed = this.streams.get(key);
      if (followed !== undefined && compareEventIds(id, followed.position ?? ZERO) > 0)
        this.hand(followed, id, payload);
    }
  }

  private handStanding(key: string, followed: Followed, from: EventId, reply: unknown): void {
    for (const event of this.standing(followed, from, reply)) {
      if (this.streams.get(key) !== followed) return;
      if (compareEventIds(event.id, followed.position ?? ZERO) > 0) this.hand(followed, event.id, event.payload);
    }
  }

  /**
   * The events a `standing` reply holds after `from`, after telling the handler of a loss: the stream is gone (it
   * will be read from its start when created again), or its genesis or trimming is past `from`.
   */
  private standing(followed: Followed, from: EventId, reply: unknown): { id: EventId; payload: EventPayload }[] {
    const [, genesis, maxDeleted, entries] = reply as [string, string, string, unknown];
    const fresh = from.ms === 0 && from.seq === 0;
    if (genesis === "" && String(maxDeleted) === "0-0") {
      if (!fresh) followed.handler.lost();
      followed.position = ZERO;
      return [];
    }
    const floor = maxEventId(parseId(genesis), parseId(maxDeleted));
    if (!fresh && compareEventIds(floor, from) > 0) followed.handler.lost();
    const out: { id: EventId; payload: EventPayload }[] = [];
    for (const entry of parseEntries(entries)) {
      const event = toEvent(entry);
      if (event !== undefined) out.push({ id: event.id, payload: event });
      // A genesis mark moves the position without being an event.
      else if (compareEventIds(entry.id, followed.position ?? ZERO) > 0) followed.position = entry.id;
    }
    return out;
  }
}
