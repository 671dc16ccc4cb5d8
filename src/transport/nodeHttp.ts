import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse, ServerHttp2Stream } from "node:http2";
import type { Socket } from "node:net";
import type { SchedulerLike } from "rxjs";
import { describeValue } from "../describe.js";
import { EventFlareError } from "../errors.js";
import { scheduleOnce } from "../timers.js";
import type { Connection, ConnectionEnd, ConnectionOwner } from "./Connection.js";

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

/**
 * Where an emitter keeps its connection(s), so the shared listeners below need no closure per client. A socket
 * usually carries one exchange at a time; pipelined requests queue several on one socket, which then holds a Set.
 */
const kConnection = Symbol("event-flare.connection");
type Tagged<T> = T & { [kConnection]?: NodeHttpConnection | Set<NodeHttpConnection> | undefined };

/*
 * How a client's departure is seen (measured on Node 20):
 * - HTTP/1: the response's 'close'. A pipelined request whose response waits behind another has no socket of its own
 *   and never hears 'close', so such a response also listens on the socket, whose 'close' ends every exchange queued
 *   on it. The
 *   request's 'close' is no signal: it fires as soon as the request body has been read.
 * - HTTP/2: the response's 'close', and the stream's 'aborted'. A client that resets its stream while the flow-control
 *   window is full leaves the stream neither closed nor destroyed, holding what was queued; 'aborted' still fires,
 *   and destroying the stream then frees it.
 */
function onEmitterClose(this: Tagged<NodeResponse | Socket>): void {
  endAll(this[kConnection], "client-disconnect");
}

function onStreamAborted(this: Tagged<ServerHttp2Stream>): void {
  endAll(this[kConnection], "client-disconnect");
  this.destroy();
}

// HTTP/2 streams report failures as 'error' on the response; it stays attached for the response's life, so an
// 'error' after the session left cannot crash the process.
function onResponseError(this: Tagged<NodeResponse>, error: unknown): void {
  endAll(this[kConnection], "write-error", error);
}

/**
 * A session needs a response nothing was sent on: an ended response, or one whose headers went out for something other
 * than an event stream, cannot carry one. (Headers the application sent itself for `text/event-stream` are kept.)
 */
function assertUnsent(res: ServerResponse): void {
  if (res.writableEnded) {
    throw new EventFlareError(
      "INVALID_ARGUMENT",
      "The response has already ended: create the Session before anything ends the response.",
      { field: "res" },
    );
  }
  if (!res.headersSent) return;
  // Headers given to writeHead() are not in the header map: read them from what went out (node:http keeps it).
  const sent = (res as { _header?: unknown })._header;
  const type = String(
    res.getHeader("content-type") ?? (typeof sent === "string" ? /^content-type:\s*(.*)$/im.exec(sent)?.[1] : "") ?? "",
  );
  if (!type.startsWith("text/event-stream")) {
    throw new EventFlareError(
      "INVALID_ARGUMENT",
      `The response's headers were already sent (Content-Type ${describeValue(type)}): create the Session before anything writes to the response.`,
      { field: "res" },
    );
  }
}

function endAll(tag: NodeHttpConnection | Set<NodeHttpConnection> | undefined, why: ConnectionEnd, error?: unknown) {
  if (tag instanceof Set) for (const connection of [...tag]) connection.ended(why, error);
  else tag?.ended(why, error);
}

/** A {@link Connection} over node:http's `ServerResponse` or http2's compatibility `Http2ServerResponse`. */
export class NodeHttpConnection implements Connection {
  readonly isHttp2: boolean;
  private readonly flushable: boolean;
  private owner: ConnectionOwner | undefined;
  /** An end that happened before `attach` (during `open`, or a client already gone), told on the next tick. */
  private early: { why: ConnectionEnd; error?: unknown } | undefined;

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
    res.end();
    // On a shutdown the HTTP/1 socket goes too, so a client does not send its reconnect on it to the server that is
    // closing (HTTP/2 streams share their session). Otherwise the socket stays for the client to reuse.
    const hangUp = () => {
      if (hangUpAfter && !this.isHttp2) this.request.socket?.end();
    };
    if (res.writableFinished) {
      hangUp();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      // A client that never reads would hold the queued bytes, and the server, forever.
      const deadline = scheduleOnce(scheduler, timeout, () => {
        if (!res.writableFinished) this.destroy();
        resolve();
      });
      const done = () => {
        deadline.unsubscribe();
        hangUp();
        resolve();
      };
      res.once("finish", done);
      res.once("close", done);
    });
  }

  destroy(): void {
    // On HTTP/2 only this stream goes; its session carries other clients' streams too.
    if (this.isHttp2) (this.response as Http2ServerResponse).stream.destroy();
    else (this.response as ServerResponse).destroy();
  }

  attach(owner: ConnectionOwner): void {
    this.owner = owner;
    const res = this.response as Tagged<ServerResponse>;
    res[kConnection] = this;
    res.on("close", onEmitterClose);
    if (this.isHttp2) {
      res.on("error", onResponseError);
      const stream = (this.response as Http2ServerResponse).stream as Tagged<ServerHttp2Stream>;
      stream[kConnection] = this;
      stream.on("aborted", onStreamAborted);
    } else if (res.socket === null) {
      // Only a response queued behind another on its socket listens there: the socket's response hears 'close'
      // itself, so the common case adds nothing to the socket.
      const socket = this.request.socket as Tagged<Socket> | null;
      if (socket !== null) {
        const tag = socket[kConnection];
        if (tag === undefined) {
          socket[kConnection] = this;
          socket.on("close", onEmitterClose);
        } else if (tag instanceof Set) tag.add(this);
        else socket[kConnection] = new Set([tag, this]);
      }
    }
    if (this.early === undefined && this.closed) this.early = { why: "client-disconnect" };
    if (this.early !== undefined) process.nextTick(tellEarlyEnd, this);
  }

  detach(): void {
    this.owner = undefined;
    const res = this.response as Tagged<ServerResponse>;
    res[kConnection] = undefined;
    res.off("close", onEmitterClose);
    if (this.isHttp2) {
      const stream = (this.response as Http2ServerResponse).stream as Tagged<ServerHttp2Stream>;
      stream[kConnection] = undefined;
      stream.off("aborted", onStreamAborted);
      return;
    }
    const socket = this.request.socket as Tagged<Socket> | null;
    const tag = socket?.[kConnection];
    if (socket === null || tag === undefined) return;
    if (tag instanceof Set) {
      if (!tag.delete(this) || tag.size > 1) return;
      socket[kConnection] = tag.values().next().value;
      if (tag.size === 1) return;
    } else if (tag !== this) {
      return;
    } else {
      socket[kConnection] = undefined;
    }
    socket.off("close", onEmitterClose);
  }

  /** @internal Called by the shared listeners, and on a failed write. */
  ended(why: ConnectionEnd, error?: unknown): void {
    const owner = this.owner;
    if (owner === undefined) {
      this.early ??= error === undefined ? { why } : { why, error };
      return;
    }
    this.detach();
    owner.connectionEnded(why, error);
  }

  /** @internal Tells the owner of an end that happened before `attach`. */
  tellEarlyEnd(): void {
    const early = this.early;
    if (early !== undefined) this.ended(early.why, early.error);
  }
}

function tellEarlyEnd(connection: NodeHttpConnection): void {
  connection.tellEarlyEnd();
}
