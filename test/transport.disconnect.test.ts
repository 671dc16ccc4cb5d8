import { createServer as createHttpServer, request } from "node:http";
import {
  connect as connectHttp2,
  createServer as createHttp2Server,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from "node:http2";
import { type AddressInfo, connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { heartbeatTimers } from "../src/heartbeat.js";
import { BroadcastStream, type CloseReason, Session } from "../src/index.js";
import { listen, type TestServer, waitFor } from "./helpers/server.js";

let server: TestServer | undefined;
let h2: Http2Server | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await server?.close();
  server = undefined;
  await new Promise<void>((resolve) => (h2 ? h2.close(() => resolve()) : resolve()));
  h2 = undefined;
});

/** An HTTP/2 server whose sessions are destroyed by `close()`, so the test's teardown never waits on them. */
function http2Server(handler: (req: Http2ServerRequest, res: Http2ServerResponse) => void): Http2Server {
  const server = createHttp2Server(handler);
  server.on("session", (session) => sockets.push({ destroy: () => session.destroy() } as Socket));
  return server;
}

let n = 0;

describe("HTTP/2: a client that resets its stream while data waits", () => {
  it.each([
    ["destroy() with no code (RST_STREAM NO_ERROR, flow-control window full)", "destroy"],
    ["close() (RST_STREAM CANCEL)", "close"],
  ])("closes the session on %s, leaving no member and no heartbeat behind", async (_, how) => {
    const channel = new BroadcastStream(`h2-reset-${++n}`);
    const sessions: Session[] = [];
    const closed: CloseReason[] = [];
    h2 = http2Server((req, res) => {
      const session = new Session(req, res, { heartbeatInterval: 60_000 });
      session.on("session-closed", (e) => closed.push(e.reason));
      sessions.push(session);
      channel.register(session);
    });
    await new Promise<void>((resolve) => h2?.listen(0, "127.0.0.1", resolve));
    const client = connectHttp2(`http://127.0.0.1:${(h2.address() as AddressInfo).port}`);
    try {
      const stream = client.request({ ":path": "/", accept: "text/event-stream" });
      await new Promise((resolve) => stream.once("response", resolve));
      // The client stops reading; the server queues about 200 KB, far past the 64 KB flow-control window.
      stream.pause();
      await waitFor(() => channel.getActiveConnections() === 1, "registration");
      const padding = "x".repeat(1000);
      for (let i = 0; i < 200; i++) channel.broadcastAll(padding);
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (how === "destroy") stream.destroy();
      else stream.close();
      await waitFor(() => sessions[0]?.getConnectionState() === "DISCONNECTED", "the session to close");
      expect(closed).toEqual(["client-disconnect"]);
      expect(channel.getActiveConnections()).toBe(0);
      expect(heartbeatTimers()).toBe(0);
      expect(client.closed).toBe(false);
    } finally {
      client.close();
    }
  });
});

describe("HTTP/1.1 pipelining", () => {
  it("ends every session queued on a socket when the client goes, even 1000 pipelined ones", async () => {
    const channel = new BroadcastStream(`pipelined-${++n}`);
    const sessions: Session[] = [];
    // A short heartbeat: a server that stopped reading a pipelining socket notices the client left on its next write.
    server = await listen(
      createHttpServer((req, res) => {
        const session = new Session(req, res, { heartbeatInterval: 50 });
        sessions.push(session);
        channel.register(session);
      }),
    );
    const socket = connect(Number(new URL(server.url).port), "127.0.0.1");
    sockets.push(socket);
    socket.on("error", () => {});
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write("GET / HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n".repeat(1000));
    await waitFor(() => sessions.length === 1000, `1000 sessions (have ${sessions.length})`);
    expect(channel.getActiveConnections()).toBe(1000);
    socket.destroy();
    await waitFor(
      () => sessions.every((s) => s.getConnectionState() === "DISCONNECTED"),
      "every pipelined session to close",
      10_000,
    );
    expect(channel.getActiveConnections()).toBe(0);
    expect(heartbeatTimers()).toBe(0);
  });

  it("ends a GET pipelined behind a HEAD when the client goes", async () => {
    const sessions: Session[] = [];
    server = await listen(
      createHttpServer((req, res) => {
        sessions.push(new Session(req, res, { heartbeatInterval: 50 }));
      }),
    );
    const socket = connect(Number(new URL(server.url).port), "127.0.0.1");
    sockets.push(socket);
    socket.on("error", () => {});
    let received = "";
    socket.on("data", (chunk) => {
      received += chunk.toString();
    });
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write("HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor(() => sessions.length === 2, "both sessions");
    // The HEAD is answered (headers, no body) so the GET behind it streams.
    await waitFor(() => received.includes("retry: 1000"), "the GET's stream to open");
    expect(received.startsWith("HTTP/1.1 200 OK\r\n")).toBe(true);
    socket.destroy();
    await waitFor(() => sessions.every((s) => s.getConnectionState() === "DISCONNECTED"), "both sessions to close");
    expect(heartbeatTimers()).toBe(0);
  });
});

describe("HEAD requests", () => {
  it.each([
    ["the default server", {}],
    ["a server with rejectNonStandardBodyWrites", { rejectNonStandardBodyWrites: true }],
  ])("get the SSE headers and an empty body, and leave no session open, on %s", async (_, serverOptions) => {
    const sessions: Session[] = [];
    const closed: CloseReason[] = [];
    const channel = new BroadcastStream(`head-${++n}`);
    server = await listen(
      createHttpServer(serverOptions, (req, res) => {
        const session = new Session(req, res);
        session.on("session-closed", (e) => closed.push(e.reason));
        sessions.push(session);
        channel.register(session);
        session.sendMessage("never written: a HEAD has no body");
      }),
    );
    const response = await new Promise<{ status: number; type: string | undefined; body: string }>(
      (resolve, reject) => {
        const req = request(`${server?.url}/`, { method: "HEAD" }, (res) => {
          let body = "";
          res.on("data", (chunk) => {
            body += chunk;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"], body }));
        });
        req.on("error", reject);
        req.end();
      },
    );
    expect(response).toEqual({ status: 200, type: "text/event-stream; charset=utf-8", body: "" });
    await waitFor(() => closed.length === 1, "the session to close");
    expect(closed).toEqual(["server-close"]);
    expect(sessions[0]?.getConnectionState()).toBe("DISCONNECTED");
    expect(channel.getActiveConnections()).toBe(0);
    expect(heartbeatTimers()).toBe(0);
  });
});
