import type { SchedulerLike, Unsubscribable } from "rxjs";
import { EventFlareError } from "../errors.js";
import type { RequestLike } from "../lastEventId.js";
import { scheduleOnce } from "../timers.js";
import type { Connection, ConnectionOwner } from "./Connection.js";
import { EndReport } from "./EndReport.js";

/**
 * Bytes the body stream queues before it asks the writer to wait: the same as a node:http socket's default
 * high-water mark. The runtime takes chunks from the stream as its socket accepts them (`pull`), so what the
 * stream holds is what the client has not drained, and the slow-consumer rule judges it as it judges a socket.
 */
const HIGH_WATER_MARK = 16 * 1024;

/**
 * The response body: a `ReadableStream` with one reader. `tee()` (and so `response.clone()` where the runtime tees
 * through it) is refused: a tee buffers without bound for the slower branch, out of reach of the drain rule.
 */
class EventStreamBody extends ReadableStream<Uint8Array> {
  override tee(): [ReadableStream<Uint8Array>, ReadableStream<Uint8Array>] {
    throw new EventFlareError(
      "INVALID_ARGUMENT",
      "An event stream's body has one reader: tee() or response.clone() would buffer without bound for the slower " +
        "branch. Open one session per client instead.",
      { field: "body" },
    );
  }
}

/**
 * A {@link Connection} over a Fetch API `Request`, answered by a `Response` whose body is a `ReadableStream`
 * (Hono, Next.js route handlers, Bun, Deno, any `fetch(request)` server). Backpressure follows the stream's
 * `desiredSize` and `pull`; the request's `AbortSignal`, or the runtime cancelling the body, ends it as
 * `client-disconnect`.
 */
export class FetchConnection implements Connection {
  readonly request: RequestLike;
  /** The Fetch API does not say which protocol carries it; the runtime owns the connection headers. */
  readonly isHttp2 = false;
  readonly body: EventStreamBody;
  private readonly signal: AbortSignal | undefined;
  private readonly head: boolean;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private readonly report = new EndReport();
  private status: "open" | "ending" | "done" = "open";
  private drained: (() => void) | undefined;
  private pullDone: (() => void) | undefined;
  private deadline: Unsubscribable | undefined;
  private headers: Record<string, string> = {};

  constructor(request: Request) {
    this.head = request.method === "HEAD";
    this.signal = request.signal ?? undefined;
    const lastEventId = request.headers.get("last-event-id");
    this.request = { headers: lastEventId === null ? {} : { "last-event-id": lastEventId }, url: request.url };
    this.body = new EventStreamBody(
      {
        start: (controller) => {
          this.controller = controller;
        },
        pull: () => this.pulled(),
        cancel: () => this.ended(),
      },
      { highWaterMark: HIGH_WATER_MARK, size: (chunk) => chunk.byteLength },
    );
  }

  /** The `Response` to return from the handler: status 200, the SSE headers, and the body (none for `HEAD`). */
  response(): Response {
    return new Response(this.head ? null : this.body, { status: 200, headers: this.headers });
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
    if (this.status !== "open") return;
    this.controller.enqueue(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  }

  writeBatch(chunks: readonly Buffer[]): boolean {
    if (this.status !== "open") return true;
    // One chunk per batch: each chunk costs the runtime a read (a promise) and a socket write, more than the copy.
    this.controller.enqueue(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    return (this.controller.desiredSize ?? 0) > 0;
  }

  whenDrained(callback: () => void): void {
    this.drained = callback;
    this.pullAgain();
  }

  get bufferedBytes(): number {
    if (this.status === "done") return 0;
    return HIGH_WATER_MARK - (this.controller.desiredSize ?? HIGH_WATER_MARK);
  }

  get closed(): boolean {
    return this.status !== "open" || this.signal?.aborted === true;
  }

  end(timeout: number, scheduler: SchedulerLike): void {
    if (this.status !== "open") return;
    if (this.bufferedBytes === 0) {
      this.finish();
      return;
    }
    // What is queued still goes out; `pulled` closes the stream once the client has taken it.
    this.status = "ending";
    this.pullAgain();
    this.deadline = scheduleOnce(scheduler, timeout, () => this.destroy());
  }

  destroy(): void {
    if (this.status === "done") return;
    this.status = "done";
    this.deadline?.unsubscribe();
    // Drops what is queued; the runtime aborts the response.
    this.controller.error(
      new Error("event-flare dropped this event stream (a slow consumer or a failed write); its session has closed"),
    );
  }

  attach(owner: ConnectionOwner): void {
    this.signal?.addEventListener("abort", this.aborted);
    this.report.attach(owner, this.signal?.aborted === true);
  }

  detach(): void {
    this.signal?.removeEventListener("abort", this.aborted);
    this.report.detach();
  }

  private readonly aborted = (): void => this.ended();

  /** The client went away: nothing more is queued, and the runtime, which saw it too, releases the body. */
  private ended(): void {
    this.status = "done";
    this.deadline?.unsubscribe();
    if (this.report.ended("client-disconnect")) this.detach();
  }

  /**
   * The stream calls `pull` when its queue is below the high-water mark, and not again until the promise `pull`
   * returned settles. Nobody needs that news while the writer is not waiting, so the promise stays pending until
   * {@link whenDrained} (or `end`) asks for the next one: the common case costs no promise per chunk.
   */
  private pulled(): Promise<void> | undefined {
    if (this.status === "ending" && this.bufferedBytes === 0) this.finish();
    const drained = this.drained;
    this.drained = undefined;
    drained?.();
    if (this.drained !== undefined || this.status !== "open") return undefined;
    return new Promise((resolve) => {
      this.pullDone = resolve;
    });
  }

  private pullAgain(): void {
    const done = this.pullDone;
    this.pullDone = undefined;
    done?.();
  }

  private finish(): void {
    this.status = "done";
    this.deadline?.unsubscribe();
    this.controller.close();
  }
}
