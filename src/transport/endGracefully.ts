import type { Writable } from "node:stream";
import type { SchedulerLike } from "rxjs";
import { scheduleOnce } from "../timers.js";

/**
 * Ends `writable` and lets what it queued drain; a client that has not taken it within `timeout` milliseconds
 * (measured on `scheduler`) is dropped with `drop`, since a client that never reads would hold the queued bytes, and
 * the server, forever. The deadline goes as soon as the writable finishes or closes; `afterwards` runs once it has
 * finished. Resolves once the writable is done, either way.
 */
export function endGracefully(
  writable: Pick<Writable, "end" | "writableFinished" | "once">,
  timeout: number,
  scheduler: SchedulerLike,
  drop: () => void,
  afterwards?: () => void,
): Promise<void> {
  writable.end();
  if (writable.writableFinished) {
    afterwards?.();
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const deadline = scheduleOnce(scheduler, timeout, () => {
      if (!writable.writableFinished) drop();
      resolve();
    });
    const done = () => {
      deadline.unsubscribe();
      afterwards?.();
      resolve();
    };
    writable.once("finish", done);
    writable.once("close", done);
  });
}
