import {
  type ClientHttp2Session,
  createSecureServer,
  type Http2SecureServer,
  type ServerHttp2Stream,
} from "node:http2";
import type { AddressInfo } from "node:net";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { heartbeatTimers } from "../src/heartbeat.js";
import { fromHttp2Stream } from "../src/http2/index.js";
import { BroadcastStream, type CloseReason, type Session } from "../src/index.js";
import { connectH2, requestH2, selfSignedCertificate, type TestCertificate } from "./helpers/h2.js";
import { waitFor } from "./helpers/server.js";

let cert: TestCertificate | undefined;
let server: Http2SecureServer | undefined;
let client: ClientHttp2Session | undefined;
const sessions: Session[] = [];
const streams: ServerHttp2Stream[] = [];
const reasons: CloseReason[] = [];

beforeAll(() => {
  cert = selfSignedCertificate();
});

afterEach(async () => {
  client?.destroy();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  sessions.length = 0;
  streams.length = 0;
  reasons.length = 0;
  expect(heartbeatTimers()).toBe(0);
});

/** An HTTP/2 server over TLS whose streams each become a session (stream API), and a client connected to it. */
async function start(options: Parameters<typeof fromHttp2Stream>[2] = {}) {
  server = createSecureServer({ ...(cert as TestCertificate) });
  server.on("stream", (stream, headers) => {
    const session = fromHttp2Stream(stream, headers, options);
    session.on("session-closed", ({ reason }) => reasons.push(reason));
    sessions.push(session);
    streams.push(stream);
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  client = connectH2(`https://127.0.0.1:${(server.address() as AddressInfo).port}`, cert as TestCertificate);
  return client;
}

describe.skipIf(selfSignedCertificate() === undefined)("fromHttp2Stream (server.on('stream'))", () => {
  it("bad input: a client that resets the stream mid-write closes the session as client-disconnect and frees it", async () => {
    const h2 = await start({ maxBufferedBytes: 8 * 1024 * 1024 });
    const reader = await requestH2(h2, "/", { "last-event-id": "0-0" });
    reader.stream.pause(); // the flow-control window fills; the server stream starts to queue
    await waitFor(() => sessions.length === 1, "the session");
    const session = sessions[0] as Session;
    const channel = new BroadcastStream("h2-reset");
    channel.register(session);
    const data = "z".repeat(16 * 1024);
    for (let i = 0; i < 64; i++) channel.broadcastAll(data); // 1 MiB, far past the 64 KiB window
    await waitFor(() => (streams[0]?.writableLength ?? 0) > 0, "bytes queued on the server stream");
    reader.reset();
    await waitFor(() => reasons.length === 1, "the close");
    expect(reasons).toEqual(["client-disconnect"]);
    expect(channel.getActiveConnections()).toBe(0);
    await waitFor(() => streams[0]?.destroyed === true, "the stream to be destroyed");
    expect(streams[0]?.listenerCount("aborted")).toBe(0);
    // The HTTP/2 connection carries on: another stream on it works.
    const next = await requestH2(h2, "/");
    await waitFor(() => sessions.length === 2, "the second session");
    const id = sessions[1]?.sendMessage("after the reset");
    await next.waitForEvents(1);
    expect(next.events[0]).toMatchObject({ id, data: "after the reset" });
    expect(h2.closed).toBe(false);
    sessions[1]?.close();
    await next.waitForEnd();
  });

  it("a HEAD request gets the headers and no body", async () => {
    const h2 = await start();
    const head = await requestH2(h2, "/", { ":method": "HEAD" });
    await head.waitForEnd();
    expect(head.status).toBe(200);
    expect(head.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    expect(head.text()).toBe("");
    await waitFor(() => reasons.length === 1, "the close");
    expect(reasons).toEqual(["server-close"]);
  });

  it("bad input: something that is not a stream is refused with INVALID_ARGUMENT", () => {
    expect(() => fromHttp2Stream({} as ServerHttp2Stream, {})).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT", field: "stream" }),
    );
  });
});
