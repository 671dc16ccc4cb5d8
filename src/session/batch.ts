import type { OutboundFrame } from "./outboundFrame.js";

/** Frames at least this large are written as they are; smaller ones are copied together. */
const SHARE_FROM_BYTES = 512;

/**
 * Turns one batch of frames into chunks for a single corked write. Runs of small frames are copied into one
 * buffer (a copy is cheaper than a write call each); large frames are passed as they are, so the one buffer a
 * broadcast encoded is shared by every session instead of copied into each session's batch.
 */
export function batch(frames: readonly OutboundFrame[], totalBytes: number | undefined): Buffer[] {
  if (totalBytes !== undefined && totalBytes < SHARE_FROM_BYTES * frames.length) {
    // Mostly small frames: one copy of everything is cheapest.
    return [
      Buffer.concat(
        frames.map((f) => f.frame),
        totalBytes,
      ),
    ];
  }
  const chunks: Buffer[] = [];
  let run: Buffer[] = [];
  for (const { frame } of frames) {
    if (frame.length >= SHARE_FROM_BYTES) {
      if (run.length > 0) {
        chunks.push(run.length === 1 ? (run[0] as Buffer) : Buffer.concat(run));
        run = [];
      }
      chunks.push(frame);
    } else {
      run.push(frame);
    }
  }
  if (run.length > 0) chunks.push(run.length === 1 ? (run[0] as Buffer) : Buffer.concat(run));
  return chunks;
}
