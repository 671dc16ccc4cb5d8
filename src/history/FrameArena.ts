/** The smallest chunk an arena allocates. */
const MIN_CHUNK = 256;
/** The largest chunk an arena allocates for small frames (a larger frame gets a chunk of its own size). */
const MAX_CHUNK = 64 * 1024;

/**
 * The frames of one history, copied into memory the history owns: chunks it allocates itself (never slices of Node's
 * shared 8 KiB pool, which one kept frame would pin whole), filled one after the other. A chunk is never written
 * twice, so a frame handed out for a replay stays valid however long the replay takes; a chunk is freed by the garbage
 * collector once every frame in it was dropped from the ring and no replay still holds one.
 *
 * Chunks grow with what the history keeps, up to an eighth of a full history's bytes: a history of one event costs one
 * small chunk, and a full one wastes about one chunk (the part of the oldest chunk already dropped, and the unused
 * end of the newest).
 *
 * Addressed by ring slot: the frame of each slot is a chunk and a span (offset, length) in it, in two parallel arrays.
 */
export class FrameArena {
  private owners: (Buffer | undefined)[];
  private spans: Uint32Array;
  private tail: Buffer | undefined;
  private used = 0;
  /** Bytes of the frames kept, and how many. */
  private keptBytes = 0;
  private kept = 0;

  /**
   * @param capacity Slots of the ring, to start with (see {@link reorder}).
   * @param size Most frames the history keeps, which sizes the chunks.
   */
  constructor(
    capacity: number,
    private readonly size: number,
  ) {
    this.owners = new Array<Buffer | undefined>(capacity);
    this.spans = new Uint32Array(capacity * 2);
  }

  /** Copies `frame` into the arena as the frame of `slot`. */
  put(slot: number, frame: Buffer): void {
    const length = frame.length;
    let tail = this.tail;
    if (tail === undefined || this.used + length > tail.length) {
      tail = Buffer.allocUnsafeSlow(this.chunkSize(length));
      this.tail = tail;
      this.used = 0;
    }
    tail.set(frame, this.used);
    this.owners[slot] = tail;
    this.spans[2 * slot] = this.used;
    this.spans[2 * slot + 1] = length;
    this.used += length;
    this.keptBytes += length;
    this.kept += 1;
  }

  /** The frame of `slot`: a view of the arena's copy. */
  get(slot: number): Buffer {
    const offset = this.spans[2 * slot] as number;
    return (this.owners[slot] as Buffer).subarray(offset, offset + (this.spans[2 * slot + 1] as number));
  }

  /** Forgets the frame of `slot`. */
  drop(slot: number): void {
    this.owners[slot] = undefined;
    this.keptBytes -= this.spans[2 * slot + 1] as number;
    this.kept -= 1;
  }

  /** The ring grew to `capacity` slots: the frame of old slot `order[i]` is now the frame of slot `i`. */
  reorder(order: readonly number[], capacity: number): void {
    const owners = new Array<Buffer | undefined>(capacity);
    const spans = new Uint32Array(capacity * 2);
    for (const [slot, old] of order.entries()) {
      owners[slot] = this.owners[old];
      spans[2 * slot] = this.spans[2 * old] as number;
      spans[2 * slot + 1] = this.spans[2 * old + 1] as number;
    }
    this.owners = owners;
    this.spans = spans;
  }

  /** The next chunk: room for `length`, about an eighth of a full history, never more than twice what is kept. */
  private chunkSize(length: number): number {
    const bytes = this.keptBytes + length;
    const wanted = Math.min(bytes, ((bytes / (this.kept + 1)) * this.size) / 8, MAX_CHUNK);
    return Math.max(length, MIN_CHUNK, 2 ** Math.ceil(Math.log2(Math.max(1, wanted))));
  }
}
