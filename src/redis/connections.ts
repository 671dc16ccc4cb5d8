import { BehaviorSubject, type Observable, Subject } from "rxjs";
import type { BackplaneState } from "../backplane/Backplane.js";
import { describeError } from "../describe.js";
import { EventFlareError } from "../errors.js";
import type { Script } from "./scripts.js";

/**
 * The parts of a node-redis client (5 or later) the backplane uses.
 *
 * @example
 * ```ts
 * import { createClient } from "redis";
 * const backplane = createRedisBackplane({ client: createClient({ url: "redis://127.0.0.1:6379" }) });
 * ```
 */
export interface RedisClientLike {
  /** Opens the connection. */
  connect(): Promise<unknown>;
  /** Sends one raw command. */
  sendCommand(args: readonly string[]): Promise<unknown>;
  /** A new client with the same settings (the backplane makes its own two connections this way). */
  duplicate(overrides?: Record<string, unknown>): RedisClientLike;
  /** Listens to the client's events (`error`, `ready`, `end`, …). */
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  /** True while the connection is up. */
  readonly isReady: boolean;
  /** Subscribes to a pub/sub channel. */
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  /** Unsubscribes from a pub/sub channel. */
  unsubscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  /** Closes gracefully (node-redis 5). */
  close?(): Promise<unknown>;
  /** Closes at once (node-redis 5). */
  destroy?(): void;
}

/**
 * The backplane's two connections, made from the application's URL or client: one for commands (pipelined by the
 * client), one that only subscribes (pub/sub), whatever the number of channels. Both run RESP2 (arrays, whatever the client's default), and neither queues
 * commands while disconnected: a command then fails at once, so nothing is sent late, after its caller was told it
 * failed. node-redis reconnects by itself; the state follows both connections.
 */
export class RedisConnections {
  readonly commands: RedisClientLike;
  readonly subscriber: RedisClientLike;
  private readonly stateSubject = new BehaviorSubject<BackplaneState>("connecting");
  private readonly errorSubject = new Subject<EventFlareError>();
  /** Subscribers to "both connections are ready again"; the reader checks its streams then. */
  private readonly readySubject = new Subject<void>();
  private closing = false;
  /** The last failure reported in the current outage: each outage reports each distinct failure once. */
  private reported = new Set<string>();

  constructor(template: RedisClientLike) {
    // RESP2 keeps replies plain arrays on every node-redis version; Redis Enterprise's maintenance notices need RESP3.
    const overrides = { RESP: 2, disableOfflineQueue: true, maintNotifications: "disabled" };
    this.commands = template.duplicate(overrides);
    this.subscriber = template.duplicate(overrides);
    for (const client of [this.commands, this.subscriber]) {
      client.on("ready", () => this.update());
      client.on("end", () => this.update());
      client.on("reconnecting", () => this.update());
      client.on("error", (error: unknown) => this.failed(error));
    }
  }

  /** Connects both; failures are reported on `errors$` while node-redis keeps retrying. */
  start(): void {
    for (const client of [this.commands, this.subscriber]) {
      client.connect().catch((error: unknown) => this.failed(error));
    }
  }

  get state(): BackplaneState {
    return this.stateSubject.value;
  }

  get state$(): Observable<BackplaneState> {
    return this.stateSubject.asObservable();
  }

  get errors$(): Observable<EventFlareError> {
    return this.errorSubject.asObservable();
  }

  /** Emits each time both connections are ready (the first time, and after every outage). */
  get ready$(): Observable<void> {
    return this.readySubject.asObservable();
  }

  /** Sends one command; rejects with `BACKPLANE_UNAVAILABLE` or `BACKPLANE_FAILED`. */
  async call(args: readonly string[]): Promise<unknown> {
    if (this.state !== "connected") throw unavailable(this.state);
    try {
      return await this.commands.sendCommand(args);
    } catch (error) {
      throw toBackplaneError(error);
    }
  }

  /** Runs a script by its SHA, and by its source when Redis does not have it (after a restart). */
  async run(script: Script, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const rest = [String(keys.length), ...keys, ...args];
    try {
      return await this.call(["EVALSHA", script.sha, ...rest]);
    } catch (error) {
      if (!(error instanceof EventFlareError) || !/NOSCRIPT/.test(error.message)) throw error;
      return this.call(["EVAL", script.source, ...rest]);
    }
  }

  /** Closes both connections; the state becomes `closed` and the observables complete. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await Promise.all([this.commands, this.subscriber].map(closeClient));
    this.stateSubject.next("closed");
    this.stateSubject.complete();
    this.errorSubject.complete();
    this.readySubject.complete();
  }

  private update(): void {
    if (this.closing) return;
    const ready = this.commands.isReady && this.subscriber.isReady;
    const previous = this.state;
    const next: BackplaneState = ready ? "connected" : previous === "connecting" ? "connecting" : "reconnecting";
    if (next === previous) return;
    if (next === "connected") this.reported = new Set();
    this.stateSubject.next(next);
    if (next === "connected") this.readySubject.next();
  }

  private failed(error: unknown): void {
    if (this.closing) return;
    this.update();
    const mapped = toBackplaneError(error);
    if (this.reported.has(mapped.message)) return;
    this.reported.add(mapped.message);
    this.errorSubject.next(mapped);
  }
}

function unavailable(state: BackplaneState): EventFlareError {
  return new EventFlareError(
    "BACKPLANE_UNAVAILABLE",
    `The Redis backplane is ${state}: nothing was sent. Retry once it is connected (see backplane.state$).`,
  );
}

/** A node-redis failure as an EventFlareError: Redis's own error replies are `BACKPLANE_FAILED`, the rest `UNAVAILABLE`. */
export function toBackplaneError(error: unknown): EventFlareError {
  if (error instanceof EventFlareError) return error;
  const name = (error as { constructor?: { name?: string } } | null)?.constructor?.name ?? "";
  const message = error instanceof Error ? error.message : "";
  if (/^(ErrorReply|SimpleError|BlobError)$/.test(name) || /^[A-Z]+ /.test(message)) {
    return new EventFlareError("BACKPLANE_FAILED", `Redis answered with an error: ${describeError(error)}`, {
      cause: error,
    });
  }
  return new EventFlareError(
    "BACKPLANE_UNAVAILABLE",
    `The Redis backplane cannot reach Redis: ${describeError(error)}`,
    {
      cause: error,
    },
  );
}

async function closeClient(client: RedisClientLike): Promise<void> {
  try {
    if (client.isReady && client.close !== undefined) await client.close();
    else client.destroy?.();
  } catch {
    client.destroy?.();
  }
}
