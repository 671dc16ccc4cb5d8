import { randomUUID } from "node:crypto";

/**
 * A random UUID as one flat string: the id of a session without a `sessionId` option. `randomUUID()` builds its
 * result by concatenation, and V8 keeps such a string as a tree of about twenty pieces (some 600 bytes) for as long
 * as the session holds it; copying it through a Buffer stores the 36 characters once.
 */
export function randomSessionId(): string {
  return Buffer.from(randomUUID(), "latin1").toString("latin1");
}
