import { connect, createServer, type Http2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { afterEach, expect, it } from "vitest";
import { BroadcastStream, Session } from "../src/index.js";
import { waitFor } from "./helpers/server.js";

let server: Http2Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

it("streams over HTTP/2 (compatibility API) without the forbidden Connection header", async () => {
  const channel = new BroadcastStream("h2");
  const sessions: Session[] = [];
  server = createServer((req, res) => {
    const session = new Session(req, res);
    sessions.push(session);
    channel.register(session);
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const client = connect(`http://127.0.0.1:${port}`);
  try {
    const events: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (e) => events.push(e) });
    const stream = client.request({ ":path": "/", accept: "text/event-stream" });
    const headers = await new Promise<Record<string, unknown>>((resolve) => stream.once("response", resolve));
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => parser.feed(chunk));
    expect(headers[":status"]).toBe(200);
    expect(headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    expect(headers.connection).toBeUndefined();
    await waitFor(() => channel.getActiveConnections() === 1, "registration");
    const id = channel.broadcastAll("over h2", "greeting");
    await waitFor(() => events.length === 1, "the event");
    expect(events[0]).toEqual({ id, event: "greeting", data: "over h2" });

    // Closing the client stream closes the session and leaves the channel; the HTTP/2 connection stays up.
    stream.close();
    await waitFor(() => sessions[0]?.getConnectionState() === "DISCONNECTED", "the session to close");
    expect(channel.getActiveConnections()).toBe(0);
    expect(client.closed).toBe(false);
  } finally {
    client.close();
  }
});
