import type { SchedulerLike, Unsubscribable } from "rxjs";
import type { RequestLike } from "../lastEventId.js";
import { scheduleOnce } from "../timers.js";
import type { Connection, ConnectionOwner } from "./Connection.js";
import { EndReport } from "./EndReport.js";
import { BodyQueue } from "./fetchBody.js";

/**
 * A {@link Connection} over a Fetch API `Request`, answered by a `Response` whose body is a `ReadableStream` (Hono,
 * Next.js, Bun, Deno). The runtime pulls the body as its socket accepts bytes, so what the body holds is what the
 * client has not drained: the slow-consumer rule judges it as it judges a socket. The request's `AbortSignal`, or the
 * runtime cancelling the body, ends it as `client-disconnect`.
 */
export class FetchConnection implements Connection {
  readonly request: RequestLike;
  /** The Fetch API does not say which protocol carries it; the runtime owns the connection headers. */
  readonly isHttp2 = false;
  private readonly body: BodyQueue;
  private readonly signal: AbortSignal | undefined;
  private readonly head: boolean;
  private readonly report = new EndReport();
  private status: "open" | "ending" | "done" = "open";
  private deadline: Unsubscribable | undefined;
  private readonly headers: Record<string, string> = {};
  /** Resolves the promise of a graceful `end`, once the body is closed or dropped. */
  private done: (() => void) | undefined;

  constructor(request: Request) {
    this.head = request.method === "HEAD";
    this.signal = request.signal ?? undefined;
    const lastEventId = request.headers.get("last-event-id");
    this.request = { headers: lastEventId === null ? {} : { "last-event-id": lastEventId }, url: request.url };
    this.body = new BodyQueue(this.ended);
  }

  /** The `Response` to return from the handler: status 200, the SSE headers, and the body (none for `HEAD`). */
  response(): Response {
    return new Response(this.head ? null : this.body.stream, { status: 200, headers: this.headers });
  }

  open(headers: Readonly<Record<string, string>>, firstChunk: Buffer | string): boolean {
    // `Connection` is hop-by-hop: the runtime sets it for HTTP/1 and must not send it on HTTP/2.
    for (const name in headers) if (name !== "Connection") this.headers[name] = headers[name] as string;
    if (this.head) {
      this.finish();
      return false;
    }
    this.write(firstChunk);
    return true;
  }

  write(chunk: Buffer | string): void {
    if (this.status === "open") this.body.enqueue(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  }

  writeBatch(chunks: readonly Buffer[]): boolean {
    if (this.status !== "open") return true;
    // One chunk per batch: each chunk costs the runtime a read (a promise) and a socket write, more than the copy.
    this.body.enqueue(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    return this.body.accepting;
  }

  whenDrained(callback: () => void): void {
    this.body.whenPulled(callback);
  }

  get bufferedBytes(): number {
    return this.status === "done" ? 0 : this.body.queuedBytes;
  }

  get closed(): boolean {
    return this.status !== "open" || this.signal?.aborted === true;
  }

  end(timeout: number, scheduler: SchedulerLike): Promise<void> {
    if (this.status !== "open") return Promise.resolve();
    if (this.body.queuedBytes === 0) {
      this.finish();
      return Promise.resolve();
    }
    // What is queued still goes out: the body closes once the runtime has taken it all, or is dropped at the deadline.
    this.status = "ending";
    this.deadline = scheduleOnce(scheduler, timeout, () => this.destroy());
    this.body.whenPulled(this.drainedWhileEnding);
    return new Promise((resolve) => {
      this.done = resolve;
    });
  }

  destroy(): void {
    if (this.status === "done") return;
    this.status = "done";
    this.deadline?.unsubscribe();
    this.body.drop();
    this.done?.();
  }

  attach(owner: ConnectionOwner): void {
    this.signal?.addEventListener("abort", this.ended);
    this.report.attach(owner, this.signal?.aborted === true);
  }

  detach(): void {
    this.signal?.removeEventListener("abort", this.ended);
    this.report.detach();
  }

  /** The client went away (abort or cancel): nothing more is queued; the runtime, which saw it too, frees the body. */
  private readonly ended = (): void => {
    this.status = "done";
    this.deadline?.unsubscribe();
    if (this.report.ended("client-disconnect")) this.detach();
  };

  private readonly drainedWhileEnding = (): void => {
    if (this.status !== "ending") return;
    if (this.body.queuedBytes === 0) this.finish();
    else this.body.whenPulled(this.drainedWhileEnding);
  };

  private finish(): void {
    this.status = "done";
    this.deadline?.unsubscribe();
    this.body.close();
    this.done?.();
  }
}
