import type { IncomingMessage, ServerResponse } from "node:http";
import { BroadcastStream, Session } from "../../src/index.js";
import { createRedisBackplane, type RedisBackplane } from "../../src/redis/index.js";
import { connectRaw, type RawClient } from "./rawClient.js";
import { startServer, type TestServer, waitFor } from "./server.js";

/**
 * One event-flare node in this process: a Redis backplane, an HTTP server, and a channel per name on demand. A request
 * `/?sid=<id>&ch=a,b` opens a session on the backplane and registers it in channels a and b.
 */
export interface BackplaneNode {
  readonly backplane: RedisBackplane;
  readonly server: TestServer;
  readonly sessions: Session<Record<string, unknown>, RedisBackplane>[];
  channel(name: string): BroadcastStream<Record<string, unknown>, RedisBackplane>;
  connect(path: string, headers?: Record<string, string>): Promise<RawClient>;
  close(): Promise<void>;
}

export async function startNode(
  url: string,
  nodeId: string,
  sessionOptions: Record<string, unknown> = {},
  onSession: (session: Session<Record<string, unknown>, RedisBackplane>, req: IncomingMessage) => void = () => {},
  channelOptions: { historySize?: number } = {},
): Promise<BackplaneNode> {
  const backplane = createRedisBackplane({ url, nodeId, nodeTtl: 1000 });
  await backplane.ready();
  const channels = new Map<string, BroadcastStream<Record<string, unknown>, RedisBackplane>>();
  const channel = (name: string) => {
    let ch = channels.get(name);
    if (ch === undefined) {
      ch = new BroadcastStream(name, { ...channelOptions, backplane });
      channels.set(name, ch);
    }
    return ch;
  };
  const sessions: Session<Record<string, unknown>, RedisBackplane>[] = [];
  const clients: RawClient[] = [];
  const server = await startServer((req: IncomingMessage, res: ServerResponse) => {
    const params = new URL(req.url ?? "/", "http://x").searchParams;
    const session = new Session(req, res, { ...sessionOptions, sessionId: params.get("sid"), backplane });
    sessions.push(session);
    for (const name of (params.get("ch") ?? "").split(",").filter(Boolean)) channel(name).register(session);
    onSession(session, req);
  });
  return {
    backplane,
    server,
    sessions,
    channel,
    async connect(path, headers = {}) {
      const before = sessions.length;
      const client = await connectRaw(`${server.url}${path}`, headers);
      clients.push(client);
      await waitFor(() => sessions.length > before, "the session");
      return client;
    },
    async close() {
      for (const client of clients) client.destroy();
      for (const ch of channels.values()) ch.close();
      await server.close();
      await backplane.close();
    },
  };
}
