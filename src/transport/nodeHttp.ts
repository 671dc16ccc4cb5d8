import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { SchedulerLike } from "rxjs";
import { EventFlareError } from "../errors.js";
import { assertUnsent } from "./assertUnsent.js";
import type { Connection, ConnectionEnd, ConnectionOwner } from "./Connection.js";
import { EndReport } from "./EndReport.js";
import { endGracefully } from "./endGracefully.js";
import { listen, unlisten } from "./nodeListeners.js";

/**
 * A node:http response, or an http2 compatibility-API response.
 *
 * @example
 * ```ts
 * const open = (req: NodeRequest, res: NodeResponse) => new Session(req, res);
 * ```
 */
export type NodeResponse = ServerResponse | Http2ServerResponse;
/**
 * A node:http request, or an http2 compatibility-API request.
 *
 * @example
 * ```ts
 * const open = (req: NodeRequest, res: NodeResponse) => new Session(req, res);
 * ```
 */
export type NodeRequest = IncomingMessage | Http2ServerRequest;

/** Compression middleware adds `flush()`; it must be called after each write or events sit in the gzip buffer. */
interface Flushable {
  flush?: () => void;
}

/** A {@link Connection} over node:http's `ServerResponse` or http2's compatibility `Http2ServerResponse`. */
export class NodeHttpConnection implements Connection {
  readonly isHttp2: boolean;
  private readonly flushable: boolean;
  private readonly report = new EndReport();

  constructor(
    readonly request: NodeRequest,
    private readonly response: NodeResponse,
  ) {
    if (
      typeof response !== "object" ||
      response === null ||
      typeof (response as ServerResponse).write !== "function" ||
      typeof (response as ServerResponse).writeHead !== "function"
    ) {
      throw new EventFlareError(
        "INVALID_ARGUMENT",
        "Session needs the response object of the request (node:http ServerResponse, Express res, or Koa ctx.res).",
        { field: "res" },
      );
    }
    if (typeof request !== "object" || request === null || typeof request.headers !== "object") {
      throw new EventFlareError(
        "INVALID_ARGUMENT",
        "Session needs the request object (node:http IncomingMessage, Express req, or Koa ctx.req).",
        { field: "req" },
      );
    }
    assertUnsent(response as ServerResponse);
    assertUnsent(response as ServerResponse);
    this.isHttp2 = request.httpVersionMajor === 2;
    this.flushable = typeof (response as Flushable).flush === "function";
  }

  open(headers: Readonly<Record<string, string>>, firstChunk: Buffer | string): boolean {
    const res = this.response as ServerResponse;
    try {
      // writeHead with the object (not setHeader per name) keeps no per-response header map alive afterwards.
      if (!res.headersSent) res.writeHead(200, headers);
      if (this.request.method === "HEAD") {
        // The headers, and no body: the exchange ends, so the next request on the socket is answered.
        res.end();
        return false;
      }
    } catch (error) {
      this.ended("write-error", error);
      return true;
    }
    this.write(firstChunk);
    return true;
  }

  write(chunk: Buffer | string): void {
    if (this.closed) return;
    try {
      (this.response as ServerResponse).write(chunk);
      if (this.flushable) (this.response as Flushable).flush?.();
    } catch (error) {
      this.ended("write-error", error);
    }
  }

  writeBatch(chunks: readonly Buffer[]): boolean {
    if (this.closed) return true;
    const res = this.response as ServerResponse;
    let accepting = true;
    try {
      // Corked, the chunks leave in one writev: each chunk is still a buffer shared with every other session.
      res.cork();
      for (const chunk of chunks) accepting = res.write(chunk);
      res.uncork();
      if (this.flushable) (this.response as Flushable).flush?.();
    } catch (error) {
      this.ended("write-error", error);
    }
    return accepting;
  }

  whenDrained(callback: () => void): void {
    this.response.once("drain", callback);
  }

  get bufferedBytes(): number {
    return this.response.writableLength;
  }

  get closed(): boolean {
    const res = this.response as ServerResponse;
    if (res.writableEnded) return true;
    if (this.isHttp2) {
      const stream = (this.response as Http2ServerResponse).stream;
      return stream.destroyed || stream.closed;
    }
    return res.destroyed || this.request.socket?.destroyed === true;
  }

  end(timeout: number, scheduler: SchedulerLike, hangUpAfter = false): Promise<void> {
    const res = this.response as ServerResponse;
    if (res.writableEnded || this.closed) return Promise.resolve();
    // On a shutdown the HTTP/1 socket goes too, so a client does not send its reconnect on it to the server that is
    // closing (HTTP/2 streams share their session). Otherwise the socket stays for the client to reuse.
    const hangUp = hangUpAfter && !this.isHttp2 ? () => this.request.socket?.end() : undefined;
    return endGracefully(res, timeout, scheduler, () => this.destroy(), hangUp);
  }

  destroy(): void {
    // On HTTP/2 only this stream goes; its session carries other clients' streams too.
    if (this.isHttp2) (this.response as Http2ServerResponse).stream.destroy();
    else (this.response as ServerResponse).destroy();
  }

  attach(owner: ConnectionOwner): void {
    listen(this, this.request, this.response, this.isHttp2);
    this.report.attach(owner, this.closed);
  }

  detach(): void {
    unlisten(this, this.request, this.response, this.isHttp2);
    this.report.detach();
  }

  /** Called by the shared listeners (nodeListeners.ts) when the client leaves, and on a failed write. */
  ended(why: ConnectionEnd, error?: unknown): void {
    if (this.report.ended(why, error)) this.detach();
  }
}
