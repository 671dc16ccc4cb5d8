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

/** Opens `url` with `GET`, like an EventSource would, and resolves once the response headers arrive. */
export function connectRaw(url: string, headers: Record<string, string> = {}, agent?: Agent): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const events: EventSourceMessage[] = [];
    const retries: number[] = [];
    const comments: string[] = [];
    let ended = false;
    // A multi-byte character can be split across TCP chunks; the streaming decoder keeps the partial bytes.
    const decoder = new TextDecoder("utf-8");
    const parser = createParser({
      onEvent: (event) => events.push(event),
      onRetry: (ms) => retries.push(ms),
      onComment: (comment) => comments.push(comment),
    });
    const req = request(
      url,
      { headers: { accept: "text/event-stream", ...headers }, ...(agent ? { agent } : {}) },
      (res) => {
        res.on("data", (chunk: Buffer) => {
          chunks.push(chunk);
          parser.feed(decoder.decode(chunk, { stream: true }));
        });
        const end = (): void => {
          ended = true;
        };
        res.on("end", end);
        res.on("close", end);
        res.on("error", end);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
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
          destroy: () => req.destroy(),
        });
      },
    );
    req.on("error", (error) => {
      ended = true;
      reject(error);
    });
    req.end();
  });
}
