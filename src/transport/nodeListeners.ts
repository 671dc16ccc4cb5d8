import type { Http2ServerResponse, ServerHttp2Stream } from "node:http2";
import type { Socket } from "node:net";
import type { ConnectionEnd } from "./Connection.js";
import type { NodeRequest, NodeResponse } from "./nodeHttp.js";

/** What the shared listeners below tell: a node:http or HTTP/2 compatibility connection. */
export interface Ending {
  ended(why: ConnectionEnd, error?: unknown): void;
}

/**
 * Where an emitter keeps its connection(s), so the shared listeners below need no closure per client. A socket
 * usually carries one exchange at a time; pipelined requests queue several on one socket, which then holds a Set.
 */
const kConnection = Symbol("event-flare.connection");
type Tagged<T> = T & { [kConnection]?: Ending | Set<Ending> | undefined };

/*
 * How a client's departure is seen (measured on Node 20):
 * - HTTP/1: the response's 'close'. A pipelined request whose response waits behind another has no socket of its own
 *   and never hears 'close', so such a response also listens on the socket, whose 'close' ends every exchange queued
 *   on it. The request's 'close' is no signal: it fires as soon as the request body has been read.
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

function endAll(tag: Ending | Set<Ending> | undefined, why: ConnectionEnd, error?: unknown): void {
  if (tag instanceof Set) for (const connection of [...tag]) connection.ended(why, error);
  else tag?.ended(why, error);
}

/** Starts telling `connection` when its client leaves or a write fails (see the comment above). */
export function listen(connection: Ending, request: NodeRequest, response: NodeResponse, isHttp2: boolean): void {
  const res = response as Tagged<NodeResponse>;
  res[kConnection] = connection;
  res.on("close", onEmitterClose);
  if (isHttp2) {
    res.on("error", onResponseError);
    const stream = (response as Http2ServerResponse).stream as Tagged<ServerHttp2Stream>;
    stream[kConnection] = connection;
    stream.on("aborted", onStreamAborted);
    return;
  }
  // Only a response queued behind another on its socket listens there: the socket's own response hears 'close'
  // itself, so the common case adds nothing to the socket.
  if ((response as { socket?: unknown }).socket !== null) return;
  const socket = request.socket as Tagged<Socket> | null;
  if (socket === null) return;
  const tag = socket[kConnection];
  if (tag === undefined) {
    socket[kConnection] = connection;
    socket.on("close", onEmitterClose);
  } else if (tag instanceof Set) tag.add(connection);
  else socket[kConnection] = new Set([tag, connection]);
}

/** Stops telling `connection` anything; the HTTP/2 'error' listener stays (see above). */
export function unlisten(connection: Ending, request: NodeRequest, response: NodeResponse, isHttp2: boolean): void {
  const res = response as Tagged<NodeResponse>;
  res[kConnection] = undefined;
  res.off("close", onEmitterClose);
  if (isHttp2) {
    const stream = (response as Http2ServerResponse).stream as Tagged<ServerHttp2Stream>;
    stream[kConnection] = undefined;
    stream.off("aborted", onStreamAborted);
    return;
  }
  const socket = request.socket as Tagged<Socket> | null;
  const tag = socket?.[kConnection];
  if (socket === null || tag === undefined) return;
  if (tag instanceof Set) {
    if (!tag.delete(connection) || tag.size > 1) return;
    socket[kConnection] = tag.values().next().value;
    if (tag.size === 1) return;
  } else if (tag !== connection) {
    return;
  } else {
    socket[kConnection] = undefined;
  }
  socket.off("close", onEmitterClose);
}
