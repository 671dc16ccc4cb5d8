import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { EventFlareError } from "../errors.js";
import type { Connection, ConnectionEnd, ConnectionOwner } from "./Connection.js";

/** A node:http response, or an http2 compatibility-API response. */
export type NodeResponse = ServerResponse | Http2ServerResponse;
/** A node:http request, or an http2 compatibility-API request. */
export type NodeRequest = IncomingMessage | Http2ServerRequest;

/** Compression middleware adds `flush()`; it must be called after each write or events sit in the gzip buffer. */
interface Flushable {
  flush?: () => void;
}

/** Where a response keeps its connection, so the shared listeners below need no closure per client. */
const kConnection = Symbol("event-flare.connection");
type TaggedResponse = NodeResponse & { [kConnection]?: NodeHttpConnection | undefined };

function onResponseClose(this: TaggedResponse): void {
  this[kConnection]?.ended("client-disconnect");
}

// HTTP/2 streams report failures as 'error' on the response; it stays attached for the response's life, so an
// 'error' after the session left cannot crash the process. An HTTP/1 response does not emit socket errors (the
// server handles them and the response closes), and writes are guarded, so it needs no listener (and no memory).
function onResponseError(this: TaggedResponse, error: unknown): void {
  this[kConnection]?.ended("write-error", error);
}

/** A {@link Connection} over node:http's `ServerResponse` or http2's compatibility `Http2ServerResponse`. */
export class NodeHttpConnection implements Connection {
  readonly isHttp2: boolean;
  private readonly flushable: boolean;
  private owner: ConnectionOwner | undefined;

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
    this.isHttp2 = request.httpVersionMajor === 2;
    this.flushable = typeof (response as Flushable).flush === "function";
  }

  open(headers: Readonly<Record<string, string>>, firstChunk: Buffer | string): void {
    const res = this.response as ServerResponse;
    // writeHead with the object (not setHeader per name) keeps no per-response header map alive afterwards.
    if (!res.headersSent) res.writeHead(200, headers);
    this.write(firstChunk);
  }

  write(chunk: Buffer | string): void {
    const res = this.response as ServerResponse;
    if (res.destroyed || res.writableEnded) return;
    res.write(chunk);
    if (this.flushable) (this.response as Flushable).flush?.();
  }

  writeBatch(chunks: readonly Buffer[]): void {
    const res = this.response as ServerResponse;
    if (res.destroyed || res.writableEnded) return;
    // Corked, the chunks leave in one writev: each chunk is still a buffer shared with every other session.
    res.cork();
    for (const chunk of chunks) res.write(chunk);
    res.uncork();
    if (this.flushable) (this.response as Flushable).flush?.();
  }

  get bufferedBytes(): number {
    return this.response.writableLength;
  }

  get closed(): boolean {
    const res = this.response as ServerResponse;
    if (res.destroyed || res.writableEnded) return true;
    if (this.isHttp2) return (this.response as Http2ServerResponse).stream.destroyed;
    return this.request.socket?.destroyed === true;
  }

  end(): void {
    const res = this.response as ServerResponse;
    if (!res.writableEnded) res.end();
  }

  destroy(): void {
    // On HTTP/2 only this stream goes; its session carries other clients' streams too.
    if (this.isHttp2) (this.response as Http2ServerResponse).stream.destroy();
    else (this.response as ServerResponse).destroy();
  }

  attach(owner: ConnectionOwner): void {
    this.owner = owner;
    const res = this.response as TaggedResponse & ServerResponse;
    res[kConnection] = this;
    res.on("close", onResponseClose);
    if (this.isHttp2) res.on("error", onResponseError);
  }

  detach(): void {
    this.owner = undefined;
    const res = this.response as TaggedResponse & ServerResponse;
    res[kConnection] = undefined;
    res.off("close", onResponseClose);
  }

  /** @internal Called by the shared response listeners. */
  ended(why: ConnectionEnd, error?: unknown): void {
    const owner = this.owner;
    if (owner === undefined) return;
    this.detach();
    owner.connectionEnded(why, error);
  }
}
