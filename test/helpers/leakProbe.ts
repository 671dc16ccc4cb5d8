import v8 from "node:v8";
import vm from "node:vm";

// The leak tests measure this process itself: they need the collector on demand.
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

/** The process's active handles and requests, counted by kind (`{ TCPSocketWrap: 2, Timeout: 1 }`). */
export function activeHandles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

/** Live heap bytes after three full collections, a turn of the event loop apart. */
export async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}
