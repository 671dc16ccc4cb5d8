import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { SchedulerLike } from "rxjs";
import { EventFlareError } from "../errors.js";
import type { RequestLike } from "../lastEventId.js";
import type { Connection, ConnectionEnd, ConnectionOwner } from "./Connection.js";
import { EndReport } from "./EndReport.js";
import { endGracefully } from "./endGracefully.js";

/** The SSE headers in HTTP/2's form (lower-case names, `:status`), made once per shared headers object. */
const h2Headers = new WeakMap<object, OutgoingHttpHeaders>();

function toH2(headers: Readonly<Record<string, string>>): OutgoingHttpHeaders {
  let out = h2Headers.get(headers);
  if (out === undefined) {
    out = { ":status": 200 };
    for (const name in headers) out[name.toLowerCase()] = headers[name];
    h2Headers.set(headers, out);
  }
  return out;
}

/**
 * A {@link Connection} over node:http2's core API: `server.on("stream", (stream, headers) => …)`.
 *
 * A client that resets its stream while the flow-control window is full leaves the stream holding what was queued;
 * its 'aborted' event still fires, and destroying the stream then frees it.
 */
export class Http2StreamConnection implements Connection {
  readonly request: RequestLike;
  readonly isHttp2 = true;
  private readonly report = new EndReport();

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly headers: IncomingHttpHeaders,
  ) {
    if (typeof stream !== "object" || stream === null || typeof stream.respond !== "function") {
      throw new EventFlareError("INVALID_ARGUMENT", "fromHttp2Stream needs the stream of server.on('stream').", {
        field: "stream",
      });
    }
    if (typeof headers !== "object" || headers === null) {
      throw new EventFlareError("INVALID_ARGUMENT", "fromHttp2Stream needs the request headers of the stream.", {
        field: "headers",
      });
    }
    this.request = { headers, url: headers[":path"] };
  }

  open(headers: Readonly<Record<string, string>>, firstChunk: Buffer | string): boolean {
    const head = this.headers[":method"] === "HEAD";
    try {
      if (!this.stream.headersSent) this.stream.respond(toH2(headers), { endStream: head });
    } catch (error) {
      // A stream reset before we answered: the session hears it on the next tick.
      this.report.ended("write-error", error);
      return true;
    }
    if (head) return false;
    this.write(firstChunk);
    return true;
  }

  write(chunk: Buffer | string): void {
    if (!this.closed) this.stream.write(chunk);
  }

  writeBatch(chunks: readonly Buffer[]): boolean {
    if (this.closed) return true;
    let accepting = true;
    this.stream.cork();
    for (const chunk of chunks) accepting = this.stream.write(chunk);
    this.stream.uncork();
    return accepting;
  }

  whenDrained(callback: () => void): void {
    this.stream.once("drain", callback);
  }

  get bufferedBytes(): number {
    return this.stream.writableLength;
  }

  get closed(): boolean {
    const stream = this.stream;
    return stream.destroyed || stream.closed || stream.writableEnded;
  }

  end(timeout: number, scheduler: SchedulerLike): Promise<void> {
    return this.closed ? Promise.resolve() : endGracefully(this.stream, timeout, scheduler, () => this.destroy());
  }

  destroy(): void {
    // Only this stream goes; its HTTP/2 session carries other clients' streams too.
    this.stream.destroy();
  }

  attach(owner: ConnectionOwner): void {
    const stream = this.stream;
    stream.on("close", this.onClose);
    stream.on("aborted", this.onAborted);
    // Stays for the stream's life: an 'error' after the session left (a reset reported late) has nobody to tell.
    stream.on("error", this.onError);
    this.report.attach(owner, this.closed);
  }

  detach(): void {
    this.stream.off("close", this.onClose);
    this.stream.off("aborted", this.onAborted);
    this.report.detach();
  }

  private readonly onClose = (): void => this.ended("client-disconnect");

  private readonly onError = (error: unknown): void => this.ended("write-error", error);

  private readonly onAborted = (): void => {
    this.ended("client-disconnect");
    this.stream.destroy();
  };

  private ended(why: ConnectionEnd, error?: unknown): void {
    if (this.report.ended(why, error)) this.detach();
  }
}
