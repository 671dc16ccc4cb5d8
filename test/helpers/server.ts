import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface TestServer {
  readonly server: Server;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Destroys every open socket and closes the server. */
  close(): Promise<void>;
}

/** Wraps a listening node:http server so that `close()` also ends open event streams. */
export async function listen(server: Server): Promise<TestServer> {
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A node:http server on 127.0.0.1, port 0, running `handler` for every request. */
export function startServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  return listen(createServer(handler));
}

/** Resolves with the next request's (req, res) pair, for tests that drive a session by hand. */
export function nextExchange(server: Server): Promise<{ req: IncomingMessage; res: ServerResponse }> {
  return new Promise((resolve) => server.once("request", (req, res) => resolve({ req, res })));
}

/** Resolves after `ms` milliseconds. Used only to let I/O happen, never to assert on speed. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every few milliseconds until it holds; fails after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
