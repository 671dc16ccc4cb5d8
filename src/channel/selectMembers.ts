import { escapeForLog } from "../describe.js";
import { EventFlareError } from "../errors.js";
import type { EventMap, Session } from "../session/Session.js";
import type { RecentDepartures } from "./departures.js";
import type { Membership } from "./Membership.js";

/**
 * Chooses sessions for `broadcastSome`: a list of sessions (or their ids), or a predicate over the members.
 *
 * @example
 * ```ts
 * broadcastStream.broadcastSome("depth data", (s) => s.getSessionId().startsWith("pro:"), "depth");
 * broadcastStream.broadcastSome("hi", ["session-a", "session-b"]);
 * ```
 */
export type SessionSelector<TEvents extends EventMap = EventMap> =
  | Iterable<Session<TEvents> | string>
  | ((session: Session<TEvents>) => boolean);

/**
 * The members a `broadcastSome` selector chooses, and the ids it names that are not members here.
 *
 * The rules: a predicate runs over the members on this node (one that throws gives `PREDICATE_FAILED`); a list
 * names sessions or session ids. A closed session in a list is skipped (it may close at any moment). An id that is not
 * a member here is returned in `elsewhere` when it was a member that left lately, or, on a backplane (`anywhere`),
 * always: it may be a member on another node, and it is sent wherever it is. Otherwise an open session or an id that
 * never was a member gives `NOT_REGISTERED`. Nothing is sent when it throws.
 */
export function selectMembers<TEvents extends EventMap>(
  sessions: SessionSelector<TEvents>,
  members: ReadonlyMap<string, Membership<TEvents>>,
  departures: RecentDepartures,
  channelId: string,
  anywhere: boolean,
): { members: Membership<TEvents>[]; elsewhere: string[] } {
  if (typeof sessions === "function") {
    const chosen: Membership<TEvents>[] = [];
    for (const member of members.values()) {
      let pick: boolean;
      try {
        pick = sessions(member.session);
      } catch (cause) {
        throw new EventFlareError(
          "PREDICATE_FAILED",
          `The broadcastSome predicate threw for session ${escapeForLog(member.session.getSessionId())}; nothing was sent.`,
          { cause },
        );
      }
      if (pick) chosen.push(member);
    }
    return { members: chosen, elsewhere: [] };
  }
  if (sessions === null || typeof (sessions as Iterable<unknown>)[Symbol.iterator] !== "function") {
    throw new EventFlareError(
      "INVALID_ARGUMENT",
      "broadcastSome takes a list of sessions (or session ids) or a predicate.",
      { field: "sessions" },
    );
  }
  const chosen = new Set<Membership<TEvents>>();
  const elsewhere = new Set<string>();
  for (const item of sessions) {
    const session = typeof item === "string" ? undefined : item;
    const sessionId = typeof item === "string" ? item : item?.getSessionId?.();
    if (typeof sessionId !== "string") {
      throw new EventFlareError("INVALID_ARGUMENT", "broadcastSome lists must hold sessions or session ids.", {
        field: "sessions",
      });
    }
    const member = members.get(sessionId);
    if (member !== undefined && (session === undefined || member.session === session)) {
      chosen.add(member);
    } else if (session !== undefined && session.getConnectionState() !== "CONNECTED") {
      // A closed session in a list is skipped: it may close at any moment.
    } else if (member === undefined && (anywhere || departures.has(sessionId))) {
      elsewhere.add(sessionId);
    } else {
      throw new EventFlareError(
        "NOT_REGISTERED",
        `Session ${escapeForLog(sessionId)} is not registered in channel "${escapeForLog(channelId)}"; register it first. Nothing was sent.`,
      );
    }
  }
  return { members: [...chosen], elsewhere: [...elsewhere] };
}
