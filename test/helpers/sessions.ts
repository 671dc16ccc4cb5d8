import { Agent, type IncomingMessage, type ServerResponse } from "node:http";
import { Session, type SessionOptions } from "../../src/index.js";
import { connectRaw, type RawClient } from "./rawClient.js";
import { startServer, type TestServer, waitFor } from "./server.js";

/**
 * A server where every request becomes a Session (sessionId from `?sid=`), handed to `onSession`.
 * `connect()` opens a raw client and resolves with it and its session, once the session exists.
 */
export async function sessionServer(
  onSession: (session: Session, req: IncomingMessage, res: ServerResponse) => void = () => {},
  options: SessionOptions = {},
) {
  const sessions: Session[] = [];
  const clients: RawClient[] = [];
  const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  const server: TestServer = await startServer((req, res) => {
    const sid = new URL(req.url ?? "/", "http://x").searchParams.get("sid") ?? undefined;
    const session = new Session(req, res, { ...options, ...(sid === undefined ? {} : { sessionId: sid }) });
    sessions.push(session);
    onSession(session, req, res);
  });
  return {
    server,
    sessions,
    async connect(path = "/", headers: Record<string, string> = {}): Promise<{ client: RawClient; session: Session }> {
      const before = sessions.length;
      const client = await connectRaw(`${server.url}${path}`, headers, agent);
      clients.push(client);
      await waitFor(() => sessions.length > before, "the session");
      return { client, session: sessions[before] as Session };
    },
    async close(): Promise<void> {
      for (const client of clients) client.destroy();
      agent.destroy();
      await server.close();
    },
  };
}
