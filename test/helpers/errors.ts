import { EventFlareError } from "../../src/index.js";

/** Runs `fn`, expecting it to throw an EventFlareError, and returns that error (anything else fails the test). */
export function errorOf(fn: () => unknown): EventFlareError {
  try {
    fn();
  } catch (error) {
    if (error instanceof EventFlareError) return error;
    throw error;
  }
  throw new Error("expected the call to throw an EventFlareError");
}
