import { openChannels } from "../channel/openChannels.js";
import { assertRetryValue } from "../encode.js";
import { EventFlareError } from "../errors.js";
import { openSessions } from "./openSessions.js";

/**
 * Options of {@link closeAllSessions}.
 *
 * @example
 * ```ts
 * const options: CloseAllOptions = { retry: 2000, channels: true };
 * await closeAllSessions(options);
 * ```
 */
export interface CloseAllOptions {
  /**
   * Milliseconds each client waits before it reconnects, sent as a last `retry:` line (for instance the time the next
   * instance of a deploy needs to start). Defaults to none: clients keep the `retryInterval` they had.
   */
  retry?: number | undefined;
  /**
   * Also close every open channel, which ends their `broadcastFrom` sources, so nothing of event-flare keeps the
   * process alive. Defaults to `true`.
   */
  channels?: boolean | undefined;
}

/**
 * Ends every open session of the process gracefully, for a deploy or a shutdown: what is queued for each client is
 * written, then its response ends (reason `server-close`); piped sources and channel memberships end with it. Open
 * connections no longer hold `server.close()` back. A client that does not read what is queued within its
 * `drainTimeout` has its socket dropped. Sessions with an explicit `sessionId` keep their history, so a client that
 * reconnects (to this process, or to any node of a backplane) resumes from its Last-Event-ID.
 *
 * Sessions opened after the call are not affected: stop accepting first (`server.close()`), then call this.
 *
 * ## Example
 * ```ts
 * process.once("SIGTERM", async () => {
 *   server.close(); // stop accepting; resolves once the open streams are gone
 *   await closeAllSessions({ retry: 2000 }); // clients come back in 2 s, to the next instance
 * });
 * ```
 *
 * @returns A promise that resolves once every response is done (written out, or dropped after `drainTimeout`).
 * @throws EventFlareError `INVALID_OPTION` for a `retry` that is not a non-negative integer, as a rejection of the
 * returned promise (before any session is ended).
 */
export async function closeAllSessions(options: CloseAllOptions = {}): Promise<void> {
  const { retry, channels = true } = options ?? {};
  if (retry !== undefined) {
    try {
      assertRetryValue(retry);
    } catch (cause) {
      throw new EventFlareError("INVALID_OPTION", 'closeAllSessions option "retry" must be a non-negative integer.', {
        field: "retry",
        cause,
      });
    }
  }
  const done = [...openSessions].map((session) => session.closeGracefully(retry));
  if (channels) {
    for (const ref of [...openChannels]) ref.deref()?.close();
  }
  await Promise.all(done);
}
