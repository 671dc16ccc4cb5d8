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
 */
export interface Connection {
  /** The request that opened the stream, for its headers and URL (Last-Event-ID). */
  readonly request: RequestLike;
  /** Sends the status and the SSE headers, then `firstChunk`, in one go so the client sees the stream open at once. */
  open(headers: Readonly<Record<string, string>>, firstChunk: Buffer | string): void;
  /** Writes one chunk. Never throws; a failed write ends the connection through its owner. */
  write(chunk: Buffer | string): void;
  /** Writes several chunks as one batch (one corked write where the transport allows it). Never throws. */
  writeBatch(chunks: readonly Buffer[]): void;
  /** Bytes accepted by `write` that have not yet reached the socket. */
  readonly bufferedBytes: number;
  /** True when the client is already gone (or the response already ended), before or after `open`. */
  readonly closed: boolean;
  /** True for HTTP/2, where the `Connection` header is forbidden. */
  readonly isHttp2: boolean;
  /** Ends the response gracefully, letting queued bytes drain. */
  end(): void;
  /** Drops the connection at once, freeing whatever is queued (used for slow consumers). */
  destroy(): void;
  /** Tells `owner` once when the client goes away or a write fails. */
  attach(owner: ConnectionOwner): void;
  /** Stops telling the owner anything. */
  detach(): void;
}
