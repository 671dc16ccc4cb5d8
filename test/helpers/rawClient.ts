import { type Agent, request } from "node:http";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { waitFor } from "./server.js";

/** A raw SSE client on a real socket: keeps the exact bytes and the events a spec parser reads from them. */
export interface RawClient {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** Every byte received so far, as text. */
  readonly text: () => string;
  readonly events: EventSourceMessage[];
  readonly retries: number[];
  readonly comments: string[];
  /** True once the server ended or dropped the stream. */
  readonly ended: () => boolean;
  /** Waits until at least `n` events arrived. */
  waitForEvents(n: number, timeoutMs?: number): Promise<EventSourceMessage[]>;
  waitForEnd(timeoutMs?: number): Promise<void>;
  /** Closes the client side of the connection. */
  destroy(): void;
}

/** What every raw client reads from its stream: the bytes, the parsed events, and whether the stream ended. */
export type StreamReading = Pick<
  RawClient,
  "text" | "events" | "retries" | "comments" | "ended" | "waitForEvents" | "waitForEnd"
>;

/**
 * Reads an SSE body chunk by chunk with a spec parser (`feed`), and knows when it ended (`end`): the part of a raw
 * client that does not depend on the transport.
 */
export function readEventStream(): { reading: StreamReading; feed(chunk: Buffer): void; end(): void } {
  const chunks: Buffer[] = [];
  const events: EventSourceMessage[] = [];
  const retries: number[] = [];
  const comments: string[] = [];
  let ended = false;
  // A multi-byte character can be split across chunks; the streaming decoder keeps the partial bytes.
  const decoder = new TextDecoder("utf-8");
  const parser = createParser({
    onEvent: (event) => events.push(event),
    onRetry: (ms) => retries.push(ms),
    onComment: (comment) => comments.push(comment),
  });
  return {
    reading: {
      text: () => Buffer.concat(chunks).toString("utf8"),
      events,
      retries,
      comments,
      ended: () => ended,
      async waitForEvents(n, timeoutMs) {
        await waitFor(() => events.length >= n, `${n} events (have ${events.length})`, timeoutMs);
        return events;
      },
      waitForEnd: (timeoutMs) => waitFor(() => ended, "the stream to end", timeoutMs),
    },
    feed(chunk) {
      chunks.push(chunk);
      parser.feed(decoder.decode(chunk, { stream: true }));
    },
    end() {
      ended = true;
    },
  };
}

/** Opens `url` with `GET`, like an EventSource would, and resolves once the response headers arrive. */
export function connectRaw(url: string, headers: Record<string, string> = {}, agent?: Agent): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const stream = readEventStream();
    const req = request(
      url,
      { headers: { accept: "text/event-stream", ...headers }, ...(agent ? { agent } : {}) },
      (res) => {
        res.on("data", stream.feed);
        res.on("end", stream.end);
        res.on("close", stream.end);
        res.on("error", stream.end);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          ...stream.reading,
          destroy: () => req.destroy(),
        });
      },
    );
    req.on("error", (error) => {
      stream.end();
      reject(error);
    });
    req.end();
  });
}
