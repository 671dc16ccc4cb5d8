import type { Backplane } from "../backplane/Backplane.js";
import { describeValue, escapeForLog } from "../describe.js";
import { EventFlareError } from "../errors.js";
import { SESSION_PROTOCOL, sessionProtocolOf } from "../session/brand.js";
import type { EventMap, Session } from "../session/Session.js";

/**
 * The sessions a channel of `TEvents` accepts. An untyped channel (the default map) takes a session of any event
 * map, as the seed API did; a typed channel takes sessions of its own map, so what it broadcasts always fits.
 *
 * @example
 * ```ts
 * const prices = new BroadcastStream<{ price: number }>("prices");
 * const member: RegistrableSession<{ price: number }> = new Session<{ price: number }>(req, res);
 * prices.register(member);
 * ```
 */
export type RegistrableSession<
  TEvents extends EventMap,
  TBackplane extends Backplane | undefined = undefined,
> = EventMap extends TEvents
  ? // biome-ignore lint/suspicious/noExplicitAny: an untyped channel accepts every typed session.
    Session<any, TBackplane>
  : Session<TEvents, TBackplane>;

/**
 * Checks that `session` may join channel `channelId`: a Session of this copy of event-flare (or one speaking the same
 * session protocol), on the channel's backplane (or, like the channel, on none), and still connected.
 *
 * @throws EventFlareError `INVALID_ARGUMENT` for something that is not such a Session, `SESSION_CLOSED` for a closed one.
 */
export function admitSession<TEvents extends EventMap>(
  session: unknown,
  channelId: string,
  backplane: Backplane | undefined,
): Session<TEvents> {
  const protocol = sessionProtocolOf(session);
  if (protocol !== SESSION_PROTOCOL) {
    const why =
      protocol === undefined
        ? `register() takes a Session created with new Session(req, res), got ${describeValue(session)}.`
        : `register() got a Session from a copy of event-flare that speaks session protocol ${protocol} (this one speaks ${SESSION_PROTOCOL}): install one version of event-flare.`;
    throw new EventFlareError("INVALID_ARGUMENT", why, { field: "session" });
  }
  const member = session as Session<TEvents>;
  const sessionId = member.getSessionId();
  if (member.backplaneOf !== backplane) {
    throw new EventFlareError(
      "INVALID_ARGUMENT",
      backplane === undefined
        ? `Session ${escapeForLog(sessionId)} lives on a backplane; register it in a channel on the same backplane.`
        : `Channel "${escapeForLog(channelId)}" lives on a backplane; register sessions created with the same backplane option.`,
      { field: "session" },
    );
  }
  if (member.getConnectionState() !== "CONNECTED") {
    throw new EventFlareError(
      "SESSION_CLOSED",
      `Session ${escapeForLog(sessionId)} is closed and cannot join channel "${escapeForLog(channelId)}". Register sessions as they connect.`,
    );
  }
  return member;
}
