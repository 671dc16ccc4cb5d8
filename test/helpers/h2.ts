import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { type ClientHttp2Session, type ClientHttp2Stream, connect, constants } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FetchLike } from "eventsource";
import { type RawClient, readEventStream } from "./rawClient.js";

/** A self-signed certificate for 127.0.0.1, made on this machine by openssl (no network). */
export interface TestCertificate {
  readonly key: string;
  readonly cert: string;
}

let made: TestCertificate | undefined;

/**
 * Makes (once per process) a P-256 key and a one-day self-signed certificate for 127.0.0.1 and localhost. Without
 * openssl the HTTP/2 tests are skipped loudly, and fail under CI=true (.ci/run installs it).
 */
export function selfSignedCertificate(): TestCertificate | undefined {
  if (made !== undefined) return made;
  const dir = mkdtempSync(join(tmpdir(), "event-flare-cert-"));
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
      ],
      { stdio: "pipe" },
    );
    made = { key: readFileSync(join(dir, "key.pem"), "utf8"), cert: readFileSync(join(dir, "cert.pem"), "utf8") };
    return made;
  } catch (error) {
    const why = `openssl could not make a test certificate: ${(error as Error).message}`;
    if (process.env.CI === "true") throw new Error(`${why}. .ci/run must install openssl.`);
    console.warn(`\n**********\n** SKIPPING HTTP/2 TLS tests: ${why}\n**********\n`);
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** An HTTP/2 client stream read like {@link RawClient}, plus the ways an HTTP/2 client ends a stream. */
export interface H2Client extends RawClient {
  readonly stream: ClientHttp2Stream;
  /** Resets the stream (RST_STREAM with CANCEL); the connection stays up. */
  reset(): void;
}

/** Opens an HTTP/2 session over TLS that trusts `cert`. */
export function connectH2(origin: string, cert: TestCertificate): ClientHttp2Session {
  const session = connect(origin, { ca: cert.cert });
  session.on("error", () => {});
  return session;
}

/** Opens `path` on `session` like an EventSource, and resolves once the response headers arrive. */
export function requestH2(
  session: ClientHttp2Session,
  path: string,
  headers: Record<string, string> = {},
): Promise<H2Client> {
  return new Promise((resolve, reject) => {
    const reader = readEventStream();
    const stream = session.request({ ":path": path, accept: "text/event-stream", ...headers });
    stream.on("end", reader.end);
    stream.on("close", reader.end);
    stream.on("error", (error) => {
      reader.end();
      reject(error);
    });
    stream.on("data", reader.feed);
    stream.once("response", (response) => {
      const out: Record<string, string | string[] | undefined> = {};
      for (const [name, value] of Object.entries(response)) if (!name.startsWith(":")) out[name] = value;
      resolve({
        stream,
        status: Number(response[":status"]),
        headers: out,
        ...reader.reading,
        destroy: () => stream.close(constants.NGHTTP2_CANCEL),
        reset: () => stream.close(constants.NGHTTP2_CANCEL),
      });
    });
    stream.end();
  });
}

/**
 * A `fetch` for the `eventsource` client over an HTTP/2 session (its `fetch` option), so the real client runs over
 * HTTP/2 too: GET with the client's headers (Last-Event-ID included), the response body as a web stream.
 */
export function h2Fetch(session: ClientHttp2Session): FetchLike {
  return (url, init) =>
    new Promise((resolve, reject) => {
      const { pathname, search } = new URL(url);
      const stream = session.request({ ":path": `${pathname}${search}`, ...(init.headers as Record<string, string>) });
      const abort = () => stream.close(constants.NGHTTP2_CANCEL);
      (init.signal as AbortSignal | undefined)?.addEventListener("abort", abort, { once: true });
      stream.on("error", reject);
      stream.once("response", (headers) => {
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            stream.on("data", (chunk: Buffer) => controller.enqueue(new Uint8Array(chunk)));
            stream.on("end", () => controller.close());
            stream.on("close", () => {
              try {
                controller.close();
              } catch {}
            });
          },
          cancel: abort,
        });
        const plain: Record<string, string> = {};
        for (const [name, value] of Object.entries(headers)) if (!name.startsWith(":")) plain[name] = String(value);
        resolve({
          body,
          url: String(url),
          status: Number(headers[":status"]),
          redirected: false,
          headers: new Headers(plain),
        });
      });
      stream.end();
    });
}
