import type { SchedulerLike } from "rxjs";
import type { Connection, ConnectionOwner } from "../../src/transport/Connection.js";

/** A Connection that records what is written to it, and when (on `clock`), instead of writing to a socket. */
export class FakeConnection implements Connection {
  readonly request = { headers: {}, url: "/" };
  readonly isHttp2 = false;
  readonly closed = false;
  readonly bufferedBytes = 0;
  /** Each write: the clock's time and the text. A batch counts as one write. */
  readonly writes: [at: number, text: string][] = [];

  constructor(private readonly clock: () => number = () => 0) {}

  open(): boolean {
    return true;
  }
  write(chunk: Buffer | string): void {
    this.writes.push([this.clock(), chunk.toString()]);
  }
  writeBatch(chunks: readonly Buffer[]): boolean {
    this.writes.push([this.clock(), Buffer.concat(chunks).toString()]);
    return true;
  }
  whenDrained(): void {}
  end(_timeout: number, _scheduler: SchedulerLike): Promise<void> {
    return Promise.resolve();
  }
  destroy(): void {}
  attach(_owner: ConnectionOwner): void {}
  detach(): void {}
}
