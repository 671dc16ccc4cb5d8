import type { SchedulerLike } from "rxjs";
import type { RequestLike } from "../lastEventId.js";

/** Why a connection ended, from the transport's point of view. */
export type ConnectionEnd = "client-disconnect" | "write-error";

/** Who hears that a connection ended. Told at most once, and never after `detach()`. */
export interface ConnectionOwner {
  connectionEnded(why: ConnectionEnd, error?: unknown): void;
}

/**
 * The transport boundary: everything a session needs from an HTTP response, and nothing more.
 * Adapters for node:http, http2 and the Fetch API implement it; core code never touches a framework.
 * No method throws: a failed write ends the connection through its owner.
 */
export interface Connection {
  /** The request that opened the stream, for its headers and URL (Last-Event-ID). */
  readonly request: RequestLike;
  /**
   * Sends the status and the SSE headers, then `firstChunk`, in one go so the client sees the stream open at once.
   * Returns false when the exchange carries no body (a `HEAD` request): the headers were sent and the response
   * ended, and the session closes.
   */
  open(headers: Readonly<Record<string, string>>, firstChunk: Buffer | string): boolean;
  /** Writes one chunk. */
  write(chunk: Buffer | string): void;
  /**
   * Writes several chunks as one batch (one corked write where the transport allows it). Returns false when the
   * transport wants the writer to wait for {@link whenDrained} before writing more, as a stream's `write` does.
   */
  writeBatch(chunks: readonly Buffer[]): boolean;
  /** Calls `callback` once, the next time the transport has drained what it buffered. */
  whenDrained(callback: () => void): void;
  /** Bytes accepted by `write` that have not yet reached the socket. */
  readonly bufferedBytes: number;
  /** True when the client is already gone (or the response already ended), before or after `open`. */
  readonly closed: boolean;
  /** True for HTTP/2, where the `Connection` header is forbidden. */
  readonly isHttp2: boolean;
  /**
   * Ends the response gracefully, letting queued bytes drain; a client that has not taken them within `timeout`
   * milliseconds (measured on `scheduler`) has its connection dropped. Resolves once the response is done either way.
   * With `hangUp`, the underlying connection is closed after the response (a server shutting down).
   */
  end(timeout: number, scheduler: SchedulerLike, hangUp?: boolean): Promise<void>;
  /** Drops the connection at once, freeing whatever is queued (used for slow consumers). */
  destroy(): void;
  /** Tells `owner` once when the client goes away or a write fails. */
  attach(owner: ConnectionOwner): void;
  /** Stops telling the owner anything. */
  detach(): void;
}
