import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { EventFlareError } from "../errors.js";
import type { Connection, ConnectionEnd } from "./Connection.js";

/** A node:http response, or an http2 compatibility-API response. */
export type NodeResponse = ServerResponse | Http2ServerResponse;
/** A node:http request, or an http2 compatibility-API request. */
export type NodeRequest = IncomingMessage | Http2ServerRequest;

/** Compression middleware adds `flush()`; it must be called after each write or events sit in the gzip buffer. */
interface Flushable {
  flush?: () => void;
}

/** A {@link Connection} over node:http's `ServerResponse` or http2's compatibility `Http2ServerResponse`. */
export class NodeHttpConnection implements Connection {
  readonly isHttp2: boolean;
  private readonly flushable: boolean;

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
    if (!res.headersSent) {
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      res.writeHead(200);
    }
    this.write(firstChunk);
  }

  write(chunk: Buffer | string): void {
    const res = this.response as ServerResponse;
    if (res.destroyed || res.writableEnded) return;
    res.write(chunk);
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

  onEnd(listener: (why: ConnectionEnd, error?: unknown) => void): () => void {
    const res = this.response as ServerResponse;
    let done = false;
    const onClose = (): void => {
      if (done) return;
      done = true;
      listener("client-disconnect");
    };
    const onError = (error: unknown): void => {
      if (done) return;
      done = true;
      listener("write-error", error);
    };
    res.once("close", onClose);
    res.on("error", onError);
    return () => {
      res.off("close", onClose);
      // The error listener stays: an 'error' emitted after we leave must not crash the process.
    };
  }
}
