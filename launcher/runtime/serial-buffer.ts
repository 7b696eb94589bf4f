// The bounded pieces of the serial fan-out, kept pure so they are tested without sockets:
// the recent-output history every new console client is shown, and the rotation rule that
// keeps the console log file within its size.

/** Keeps the last `capacity` bytes written to it. */
export class BoundedHistory {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`history capacity ${capacity}: a whole number of bytes`);
  }

  /** Appends `data`, dropping the oldest bytes beyond the capacity. */
  push(data: Buffer): void {
    if (this.capacity === 0 || data.length === 0) return;
    const kept = data.length > this.capacity ? data.subarray(data.length - this.capacity) : data;
    this.chunks.push(Buffer.from(kept));
    this.size += kept.length;
    while (this.size > this.capacity) {
      const first = this.chunks[0]!;
      const excess = this.size - this.capacity;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
      }
    }
  }

  /** The kept bytes, oldest first. */
  contents(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  get length(): number {
    return this.size;
  }
}

/**
 * Whether writing `incoming` bytes to a log that holds `current` bytes must first rotate it
 * (the file moves to `<file>.1`, replacing the older one): the log never exceeds `limit`
 * unless a single write is larger than it. An empty log is never rotated.
 */
export function mustRotate(current: number, incoming: number, limit: number): boolean {
  return current > 0 && current + incoming > limit;
}
