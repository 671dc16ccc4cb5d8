// The server side of every conformance scenario, the same code on every runtime: Node (in the test process), Bun and
// Deno (test/fixtures/fetch-runtime-server.mjs). It only uses what it is given and the web platform, so each row of
// the table differs only in how a request becomes a Session.
import type { BroadcastStream, Session, SessionOptions } from "../../src/index.js";

/** The seed README's snapshot, sent by `?seed`. */
export const SNAPSHOT = { stockName: "AAPL", currentStockPrice: "245.65" };

export interface ConformanceApp {
  /** The session options a stream request asks for in its query (see {@link conformanceApp}). */
  options(url: string): SessionOptions;
  /** Records a new session under its `tag`, joins the channel (`?join`) and sends the snapshot (`?seed`). */
  attach(session: Session, url: string): void;
  /** Runs one control command, `/control/<command>?<params>`, and returns its JSON answer. */
  control(path: string): Record<string, unknown>;
}

interface Record_ {
  session: Session;
  reason: string | undefined;
}

/**
 * Stream query: `tag` (names the session for control commands; a reconnect with the same tag takes its place), `sid`
 * (sessionId), `hb` (heartbeatInterval, default an hour), `maxbuf` and `drain` (slow-consumer bounds), `retry`
 * (retryInterval), `join` (register in the channel), `seed` (send the snapshot).
 * Control commands: `send?tag&data&event`, `broadcast?data&event`, `close?tag`, `state?tag`, `flood?tag&count&size`.
 */
export function conformanceApp(Channel: typeof BroadcastStream): ConformanceApp {
  const channel = new Channel("conformance", { historySize: 100 });
  const sessions = new Map<string, Record_>();
  const query = (url: string) => new URL(url, "http://local").searchParams;
  const number = (value: string | null) => (value === null ? undefined : Number(value));
  const find = (tag: string | null): Record_ => {
    const found = sessions.get(tag ?? "");
    if (found === undefined) throw new Error(`no session tagged ${tag}`);
    return found;
  };
  return {
    options(url) {
      const q = query(url);
      return {
        sessionId: q.get("sid"),
        heartbeatInterval: number(q.get("hb")) ?? 3_600_000,
        maxBufferedBytes: number(q.get("maxbuf")),
        drainTimeout: number(q.get("drain")),
        retryInterval: number(q.get("retry")),
      };
    },
    attach(session, url) {
      const q = query(url);
      const record: Record_ = { session, reason: undefined };
      sessions.set(q.get("tag") ?? session.getSessionId(), record);
      session.once("session-closed", ({ reason }) => {
        record.reason = reason;
      });
      if (q.has("join")) channel.register(session);
      if (q.has("seed")) session.sendMessage(JSON.stringify(SNAPSHOT));
    },
    control(path) {
      const [command, search = ""] = path.replace(/^\/control\//, "").split("?");
      const q = new URLSearchParams(search);
      const event = q.get("event") ?? undefined;
      switch (command) {
        case "send":
          return { id: find(q.get("tag")).session.sendMessage(q.get("data") ?? "", event) };
        case "broadcast":
          return { id: channel.broadcastAll(q.get("data") ?? "", event) };
        case "close":
          find(q.get("tag")).session.close();
          return {};
        case "state": {
          const { session, reason } = find(q.get("tag"));
          return {
            state: session.getConnectionState(),
            reason: reason ?? null,
            lastEventId: session.lastEventId ?? null,
          };
        }
        case "flood": {
          const { session } = find(q.get("tag"));
          const data = "x".repeat(Number(q.get("size") ?? 1024));
          for (let i = Number(q.get("count") ?? 1); i > 0 && session.getConnectionState() === "CONNECTED"; i--) {
            session.sendMessage(data);
          }
          return { state: session.getConnectionState() };
        }
        default:
          throw new Error(`unknown control command ${command}`);
      }
    },
  };
}
