/** What closing every session needs of a session (any copy of event-flare: see brand.ts). */
export interface Closable {
  closeGracefully(retry: number | undefined): Promise<void>;
}

/**
 * Every open session of the process, across copies of the library (kept on `globalThis` under a registered symbol):
 * what {@link closeAllSessions} ends, and what the metrics count. A session is in it from its constructor to its
 * close, one Set entry.
 */
export const openSessions: Set<Closable> = (() => {
  const key = Symbol.for("event-flare.openSessions.v1");
  const holder = globalThis as { [key]?: Set<Closable> };
  holder[key] ??= new Set();
  return holder[key];
})();
