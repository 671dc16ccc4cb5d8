import type { ServerResponse } from "node:http";
import { describeValue } from "../describe.js";
import { EventFlareError } from "../errors.js";

/**
 * A session needs a response nothing was sent on: an ended response, or one whose headers went out for something other
 * than an event stream, cannot carry one. (Headers the application sent itself for `text/event-stream` are kept.)
 *
 * @throws EventFlareError `INVALID_ARGUMENT`
 */
export function assertUnsent(res: ServerResponse): void {
  if (res.writableEnded) {
    throw new EventFlareError(
      "INVALID_ARGUMENT",
      "The response has already ended: create the Session before anything ends the response.",
      { field: "res" },
    );
  }
  if (!res.headersSent) return;
  // Headers given to writeHead() are not in the header map: read them from what went out (node:http keeps it).
  const sent = (res as { _header?: unknown })._header;
  const type = String(
    res.getHeader("content-type") ?? (typeof sent === "string" ? /^content-type:\s*(.*)$/im.exec(sent)?.[1] : "") ?? "",
  );
  if (!type.startsWith("text/event-stream")) {
    throw new EventFlareError(
      "INVALID_ARGUMENT",
      `The response's headers were already sent (Content-Type ${describeValue(type)}): create the Session before anything writes to the response.`,
      { field: "res" },
    );
  }
}
