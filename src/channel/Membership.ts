import { Subscription } from "rxjs";
import type { EventMap, Session } from "../session/Session.js";
import type { DeregisterReason } from "./lifecycle.js";

/** The side of a channel a membership reports to. */
export interface MembershipOwner<TEvents extends EventMap> {
  memberLeft(member: Membership<TEvents>): void;
}

/**
 * A session's membership in a channel: the Subscription `register` returns. One object per member, with no
 * closures: unsubscribing it (by the application, `deregister`, the session closing or the channel closing) is the
 * single way out, and tells the channel once.
 */
export class Membership<TEvents extends EventMap> extends Subscription {
  /** Set just before unsubscribing, so the channel can report why; otherwise derived from the session. */
  leaving: DeregisterReason | undefined = undefined;

  constructor(
    private readonly channel: MembershipOwner<TEvents>,
    readonly session: Session<TEvents>,
  ) {
    super();
  }

  override unsubscribe(): void {
    if (this.closed) return;
    super.unsubscribe();
    this.session.release(this);
    this.channel.memberLeft(this);
  }
}
