// Helpers shared by the orchestrator (run.mjs), the server child (server.mjs) and the client child (client.mjs).
import { readFileSync } from "node:fs";

/**
 * Microseconds on CLOCK_MONOTONIC. Node's hrtime reads the system-wide monotonic clock, so a value taken in the
 * server child and one taken in the client child are directly comparable (same machine, same epoch: boot).
 */
export function nowUs() {
  return Number(process.hrtime.bigint()) / 1000;
}

/**
 * Context switches of this process so far (Linux /proc/self/status): voluntary ones are sleeps (e.g. in epoll_wait
 * with nothing to do, then a wake-up by the kernel), involuntary ones are preemptions. Zeros elsewhere.
 */
export function contextSwitches() {
  try {
    const status = readFileSync("/proc/self/status", "utf8");
    const voluntary = Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const involuntary = Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { voluntary, involuntary };
  } catch {
    return { voluntary: 0, involuntary: 0 };
  }
}

/** Sends a message to the parent over IPC; a no-op when there is no parent (never happens in the bench). */
export function toParent(message) {
  if (process.send !== undefined && process.connected) process.send(message);
}

/**
 * Children die with their parent: when the IPC channel closes (the orchestrator exited or was killed), exit at once.
 * Also turns an uncaught error into an IPC error report and a non-zero exit.
 */
export function bindToParent(label) {
  process.on("disconnect", () => process.exit(2));
  const fail = (error) => {
    const message = `${label}: ${error?.stack ?? String(error)}`;
    try {
      toParent({ type: "error", message });
    } finally {
      process.stderr.write(`${message}\n`);
      process.exit(1);
    }
  };
  process.on("uncaughtException", fail);
  process.on("unhandledRejection", fail);
}

/** Full garbage collection, twice (the second pass frees what the first one's finalizers released). */
export function fullGc() {
  if (typeof globalThis.gc !== "function") throw new Error("run node with --expose-gc");
  globalThis.gc();
  globalThis.gc();
}

/**
 * The data of one benchmark event: `<seq>:<sendTimeUs>:` padded with `x` to exactly `size` bytes.
 * Only digits, `:` and `x`: no JSON escaping, no line breaks, the same bytes whatever the implementation.
 */
export function makePayload(seq, size, pad) {
  const prefix = `${seq}:${Math.round(nowUs())}:`;
  return prefix + pad.slice(prefix.length, size);
}

/**
 * Latency histogram in microseconds: exact below 2048 µs, then 1024 sub-buckets per power of two (0.1 % precision).
 * Recording is one Math.clz32 and one array increment, cheap enough for every event of every client.
 */
export class Histogram {
  constructor() {
    this.counts = new Float64Array(2048 + 21 * 1024);
    this.total = 0;
    this.max = 0;
  }

  record(us) {
    let v = us < 0 ? 0 : Math.round(us);
    if (v > 0x7fffffff) v = 0x7fffffff;
    let index;
    if (v < 2048) {
      index = v;
    } else {
      const e = 31 - Math.clz32(v);
      index = 2048 + (e - 11) * 1024 + ((v >>> (e - 10)) & 1023);
    }
    this.counts[index] += 1;
    this.total += 1;
    if (v > this.max) this.max = v;
  }

  static valueAt(index) {
    if (index < 2048) return index;
    const e = 11 + ((index - 2048) >> 10);
    const sub = (index - 2048) & 1023;
    return (1024 + sub + 0.5) * 2 ** (e - 10);
  }

  percentile(p) {
    if (this.total === 0) return 0;
    const rank = Math.ceil((p / 100) * this.total);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Histogram.valueAt(i);
    }
    return this.max;
  }

  /** The non-empty buckets as [index, count] pairs (see merge). */
  sparse() {
    const out = [];
    for (let i = 0; i < this.counts.length; i++) if (this.counts[i] !== 0) out.push([i, this.counts[i]]);
    return { buckets: out, max: this.max };
  }

  /** Adds another histogram's sparse() buckets to this one. */
  merge({ buckets, max }) {
    for (const [i, count] of buckets) {
      this.counts[i] += count;
      this.total += count;
    }
    if (max > this.max) this.max = max;
  }

  summary() {
    return {
      count: this.total,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      max: this.max,
    };
  }
}

export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
