import { EventFlareError } from "./errors.js";

/**
 * Turns an application message into event data.
 *
 * The rule: a string is sent as it is; anything else is serialized with `JSON.stringify`
 * (so `{ a: 1 }` becomes `{"a":1}`, `42` becomes `42` and `null` becomes `null`).
 * A value JSON cannot represent (`undefined`, a function, a symbol, a BigInt, a cycle) is rejected.
 *
 * @throws EventFlareError `INVALID_MESSAGE` when the value cannot be serialized.
 *
 * @example
 * ```ts
 * messageToData({ a: 1 }); // '{"a":1}'
 * messageToData("as it is"); // 'as it is'
 * ```
 */
export function messageToData(message: unknown): string {
  if (typeof message === "string") return message;
  let json: string | undefined;
  try {
    json = JSON.stringify(message);
  } catch (cause) {
    throw new EventFlareError(
      "INVALID_MESSAGE",
      `The message could not be serialized as JSON (${(cause as Error).message}). Send a string, or a JSON-serializable value.`,
      { cause },
    );
  }
  if (json === undefined) {
    throw new EventFlareError(
      "INVALID_MESSAGE",
      `A message of type ${typeof message} has no JSON form. Send a string, or a JSON-serializable value.`,
    );
  }
  return json;
}
