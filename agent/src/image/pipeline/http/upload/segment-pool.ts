/**
 * The bounded memory of a segmented upload: at most `capacity` buffers of one
 * segment each, allocated when first needed and reused. A segment holds its
 * buffer from the first byte copied in until the store answered 2xx for it
 * (so a failed segment can be sent again without reading the disk again);
 * `acquire` waits while every buffer is taken, which is what makes the
 * writer wait: the upload's backpressure.
 */
export class SegmentPool {
  readonly #capacity: number;
  readonly #size: number;
  #allocated = 0;
  readonly #free: Buffer[] = [];
  readonly #waiting: { resolve: (buffer: Buffer) => void; reject: (error: Error) => void }[] = [];
  #failure: Error | undefined;

  constructor(capacity: number, size: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${size}`);
    this.#capacity = capacity;
    this.#size = size;
  }

  /** Buffers allocated so far (never more than the capacity). */
  get allocated(): number {
    return this.#allocated;
  }

  /** Buffers taken now. */
  get inUse(): number {
    return this.#allocated - this.#free.length;
  }

  acquire(): Promise<Buffer> {
    if (this.#failure) return Promise.reject(this.#failure);
    const free = this.#free.pop();
    if (free) return Promise.resolve(free);
    if (this.#allocated < this.#capacity) {
      this.#allocated += 1;
      // allocUnsafe: every byte sent is copied in first (only `fill` bytes of a buffer are ever read).
      return Promise.resolve(Buffer.allocUnsafe(this.#size));
    }
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  release(buffer: Buffer): void {
    const waiter = this.#waiting.shift();
    if (waiter) waiter.resolve(buffer);
    else this.#free.push(buffer);
  }

  /** Rejects every waiting and later `acquire` with `error`. */
  fail(error: Error): void {
    this.#failure ??= error;
    for (const waiter of this.#waiting.splice(0)) waiter.reject(this.#failure);
  }
}
