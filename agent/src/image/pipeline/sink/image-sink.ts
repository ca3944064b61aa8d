import { IngotError, toIngotError } from '@ingot/protocol';
import type { DigestWorker } from '../digest/digest-worker.ts';
import { DIRECT_ALIGN, type Slot, type SlotPool } from './slot-pool.ts';
import type { ImageTarget } from './target.ts';
import type { ZeroRuns } from './zero-runs.ts';

/**
 * Where decompressed (or raw) image bytes go: they fill the current slot, and
 * each full slot is hashed by the worker and written at its own offset, both
 * at once, several slots in flight. No stream machinery on this path: a slot
 * is just memory with three consumers (perf-limits.md 7, "Worth keeping").
 */
export interface ImageSinkOptions {
  pool: SlotPool;
  target: ImageTarget;
  worker: DigestWorker;
  /** Worker stream that hashes the image bytes (served digest for raw, read-back digest otherwise), if any. */
  hashStream?: string | undefined;
  /**
   * Skip writing all-zero slots: only when the target is known to read back
   * zeros, or when `zeroRuns` records them for zero-runs.ts to zero and verify
   * afterwards (perf-limits.md 3).
   */
  skipZeroSlots: boolean;
  zeroRuns?: ZeroRuns;
}

export class ImageSink {
  /** Image bytes accepted so far (including those still in the current slot). */
  imageBytes = 0;
  /** Image bytes on the target (or skipped as zero), for progress. */
  bytesWritten = 0;
  skippedZeroBytes = 0;
  /** Whether any byte may have reached the target: from then on a failure must wipe it. */
  writeStarted = false;
  failure: Error | undefined;
  private current: Slot | undefined;
  private fill = 0;
  private readonly inflight = new Set<Promise<void>>();
  private readonly failureListeners = new Set<(error: Error) => void>();
  private readonly unsubscribers: Array<() => void> = [];

  constructor(private readonly options: ImageSinkOptions) {}

  /** The unfilled tail of the current slot, or undefined when every slot is busy. */
  space(): Uint8Array | undefined {
    if (this.failure) return undefined;
    if (!this.current) {
      this.current = this.options.pool.acquire();
      this.fill = 0;
      if (!this.current) return undefined;
    }
    return this.current.view.subarray(this.fill);
  }

  /** Accepts `count` bytes just placed at the start of `space()`; dispatches the slot once full. */
  commit(count: number): void {
    if (count === 0) return;
    this.fill += count;
    this.imageBytes += count;
    if (this.fill === this.options.pool.size) this.dispatchCurrent();
  }

  /**
   * A whole free slot for a producer that fills slots elsewhere (the zstd
   * worker), or undefined when none is free or the sink failed. It comes
   * back through `dispatchSlot` (filled, in the order taken) or `releaseSlot`.
   */
  takeSlot(): Slot | undefined {
    return this.failure ? undefined : this.options.pool.acquire();
  }

  /** The next `length` image bytes are at the start of `slot`'s view: hash and write them. */
  dispatchSlot(slot: Slot, length: number): void {
    if (this.failure || length === 0) {
      this.options.pool.release(slot);
      return;
    }
    this.imageBytes += length;
    this.dispatch(slot, length);
  }

  releaseSlot(slot: Slot): void {
    this.options.pool.release(slot);
  }

  /** Copies `bytes` in, waiting for free slots: for decoders that hand out their own chunks. */
  async append(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.byteLength) {
      this.throwIfFailed();
      const space = this.space();
      if (!space) {
        await this.options.pool.whenFree();
        continue;
      }
      const count = Math.min(space.byteLength, bytes.byteLength - done);
      space.set(bytes.subarray(done, done + count));
      done += count;
      this.commit(count);
    }
  }

  /** Chooses the worker stream that hashes slots, once the format is known and before the first dispatch. */
  hashWith(stream: string | undefined): void {
    this.options.hashStream = stream;
  }

  /** Dispatches the partly filled last slot. */
  flush(): void {
    if (this.current && this.fill > 0) this.dispatchCurrent();
    else if (this.current) {
      this.options.pool.release(this.current);
      this.current = undefined;
    }
  }

  /** Waits for every slot in flight; throws the first failure. */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    this.throwIfFailed();
  }

  /** Forgets everything written (after `drain`): the image starts over at offset 0. */
  reset(): void {
    if (this.current) this.options.pool.release(this.current);
    this.current = undefined;
    this.fill = 0;
    this.imageBytes = 0;
    this.bytesWritten = 0;
    this.skippedZeroBytes = 0;
    this.options.zeroRuns?.clear();
  }

  /** Calls `listener` whenever a slot comes free; returns an unsubscribe function. */
  onSpace(listener: () => void): () => void {
    const off = this.options.pool.onRelease(listener);
    this.unsubscribers.push(off);
    return off;
  }

  /**
   * Stops this sink for good without reporting a failure (the download starts
   * over with a new sink): pending decoder output is refused from now on.
   */
  retire(): void {
    this.failureListeners.clear();
    for (const off of this.unsubscribers.splice(0)) off();
    this.failure ??= new Error('image sink retired');
  }

  onFailure(listener: (error: Error) => void): void {
    this.failureListeners.add(listener);
  }

  fail(error: unknown): void {
    if (this.failure) return;
    this.failure = toIngotError(error, 'INGOT_IMAGE_WRITE');
    for (const listener of this.failureListeners) listener(this.failure);
  }

  throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  private dispatchCurrent(): void {
    const slot = this.current!;
    const length = this.fill;
    this.current = undefined;
    this.fill = 0;
    this.dispatch(slot, length);
  }

  /** Hashes and writes the last `length` bytes accepted, which `slot` holds. */
  private dispatch(slot: Slot, length: number): void {
    const position = this.imageBytes - length;
    const { target, worker, hashStream } = this.options;
    // Checked before the write is issued, so nothing lands past the end of the disk.
    if (position + length > target.size) {
      this.options.pool.release(slot);
      this.fail(new IngotError('INGOT_IMAGE_TOO_LARGE', {
        details: `the image is larger than ${target.path} (${target.size} bytes): it already holds ${position + length} bytes; nothing was written past the end`,
      }));
      return;
    }
    const view = slot.view.subarray(0, length);
    // A ragged last slot is written: zeroing works in whole sectors. The worker answers in
    // dispatch order, so zero runs are recorded in ascending order.
    const zeroCheck = this.options.skipZeroSlots && length % DIRECT_ALIGN === 0 ? worker.isZero(view) : undefined;
    this.writeStarted ||= !zeroCheck;
    const write = async () => {
      if (await zeroCheck) {
        this.options.zeroRuns?.add(position, length);
        this.skippedZeroBytes += length;
        return;
      }
      this.writeStarted = true;
      await target.write(view, position).catch((error: unknown) => {
        throw new IngotError('INGOT_IMAGE_WRITE', { details: `writing ${length} bytes at offset ${position} of ${target.path} failed: ${(error as Error).message}`, cause: error });
      });
    };
    const work = Promise.all([hashStream ? worker.update(hashStream, view) : undefined, write()]).then(
      () => {
        this.bytesWritten += length;
      },
      (error: unknown) => this.fail(error),
    );
    const tracked = work.finally(() => {
      this.inflight.delete(tracked);
      this.options.pool.release(slot);
    });
    this.inflight.add(tracked);
  }

}
