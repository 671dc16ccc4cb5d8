import type { ConnectionEnd, ConnectionOwner } from "./Connection.js";

/**
 * How an adapter tells its owner that the connection ended: once, never after `detach`, and never inside `attach`.
 * An end seen before `attach` (a client already gone, a write that failed in `open`) is held and told on the next
 * tick, so a session never closes inside its constructor and listeners attached right after it hear the close.
 */
export class EndReport {
  private owner: ConnectionOwner | undefined;
  private early: { why: ConnectionEnd; error?: unknown } | undefined;

  /** Starts telling `owner`; `alreadyClosed` reports a client that left before the session existed. */
  attach(owner: ConnectionOwner, alreadyClosed: boolean): void {
    this.owner = owner;
    if (this.early === undefined && alreadyClosed) this.early = { why: "client-disconnect" };
    if (this.early !== undefined) process.nextTick(tellEarly, this);
  }

  detach(): void {
    this.owner = undefined;
  }

  /**
   * Tells the owner once (or holds the end until `attach`). Returns true when an owner was told, so the adapter
   * can remove its listeners.
   */
  ended(why: ConnectionEnd, error?: unknown): boolean {
    const owner = this.owner;
    if (owner === undefined) {
      this.early ??= error === undefined ? { why } : { why, error };
      return false;
    }
    this.owner = undefined;
    owner.connectionEnded(why, error);
    return true;
  }

  /** Tells the owner of an end held since before `attach`. */
  tellEarly(): void {
    const early = this.early;
    if (early !== undefined && this.owner !== undefined) this.ended(early.why, early.error);
  }
}

function tellEarly(report: EndReport): void {
  report.tellEarly();
}
