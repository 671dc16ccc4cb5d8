/**
 * Safe descriptions of untrusted values for error messages and warnings.
 *
 * Values that reach a message may come from a client (a sessionId taken from a query, a header): they are quoted,
 * cut to a short length and stripped of raw control characters, so a 1 MiB value cannot make a 1 MiB message and a
 * CR/LF cannot forge a log line. Describing never throws, whatever the value (a null-prototype object, a throwing
 * `toString`, a revoked proxy).
 */

/** Characters of a string kept in a message; the rest is summarized by its length. */
const MAX_SHOWN = 64;

/** Control characters (C0, DEL, C1) and the Unicode line and paragraph separators, which logs treat as line breaks. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** `text` with every control character written as a visible escape (`\n`, `\u0000`), cut to `max` characters. */
export function escapeForLog(text: string, max = MAX_SHOWN): string {
  const shown = text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
  return shown.replace(UNSAFE, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

/** A short description of any value: strings quoted and escaped, numbers as they are, objects by kind. */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case "string":
      return `"${escapeForLog(value)}"`;
    case "number":
    case "boolean":
    case "bigint":
    case "undefined":
      return String(value);
    case "symbol":
      return "a symbol";
    case "function":
      return "a function";
    default:
      if (value === null) return "null";
      return Array.isArray(value) ? "an array" : "an object";
  }
}

/** An error (or any thrown value) as one safe line: `Name: message` for errors, else {@link describeValue}. */
export function describeError(error: unknown): string {
  try {
    if (error instanceof Error) return escapeForLog(`${error.name}: ${error.message}`, 200);
  } catch {
    // A throwing getter on name or message: fall through to the plain description.
  }
  return describeValue(error);
}
