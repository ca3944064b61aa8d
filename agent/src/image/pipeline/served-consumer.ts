import { IngotError } from '@ingot/protocol';
import { createGzipDecoder, createXzDecoder, createZstdDecoder, type Decoder } from './decoders.ts';
import type { DigestWorker } from './digest-worker.ts';
import { detectImageFormat, detectImageFormatSoFar, isCompressed, type ImageFormat } from '../format.ts';
import type { BodyConsumer } from './http-connection.ts';
import type { ImageSink } from './image-sink.ts';

/**
 * Reused socket read buffer for compressed input. 256 KiB rather than
 * perf-limits.md 7's 1 MiB: reads that arrive while paused are copied aside,
 * and 1 MiB copies piled up as garbage (peak RSS), for no measurable speed.
 */
const RECEIVE_SIZE = 256 * 1024;
/** Compressed bytes are copied into shared staging buffers of this size for the digest worker. */
const STAGING_SIZE = 256 * 1024;
/** A staging buffer with less room than this is sent to the digest before the next read. */
const MIN_STAGED_READ = 16 * 1024;
/** Staging buffers the worker may lag behind by before the socket pauses: it hashes 1 MiB in about 0.6 ms. */
const STAGING_MAX = 6;

/**
 * Takes the bytes as served, across connections and resumes: detects the
 * format, feeds the digest of the served file and the decoder, and parks
 * whatever cannot be taken yet (the socket is paused meanwhile). Raw images
 * are read by the kernel straight into the image slots; their digest is taken
 * from the slots, so the served bytes are hashed exactly once either way.
 */
export class ServedConsumer implements BodyConsumer {
  /** Served bytes taken so far: where a resumed request starts. */
  served = 0;
  format: ImageFormat | undefined;
  private decoder: Decoder | undefined;
  private readonly receive = Buffer.allocUnsafe(RECEIVE_SIZE);
  // Where the unconsumed rest of a read waits while the socket is paused. One reused buffer:
  // with zstd the pool runs dry on most slots, and a fresh copy each time cost ~40 MB of RSS.
  private readonly parked = Buffer.allocUnsafe(RECEIVE_SIZE);
  private headBytes = Buffer.alloc(0);
  private pending: Uint8Array[] = [];
  // Reads that arrive while paused are copied aside into these, reused: fresh copies were
  // garbage that only a GC returned, and the largest part of the zstd path's peak RSS.
  private readonly asideFree: Uint8Array[] = [];
  private readonly asideBuffers = new Set<ArrayBufferLike>();
  private paused = false;
  private resume: (() => void) | undefined;
  private reservedTail: Uint8Array | undefined;
  private reservedStaging: Uint8Array | undefined;
  private staging: Uint8Array | undefined;
  private stagingFill = 0;
  private stagingInflight = 0;
  private stagingFree: Uint8Array[] = [];
  // The worker hashes in message order, so the last update settling means all did.
  private lastStaging: Promise<void> = Promise.resolve();
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly sink: ImageSink,
    private readonly worker: DigestWorker,
    /** Called once the format is known, before any byte reaches the sink; may throw (e.g. qcow2, too large). */
    private readonly onFormat: (format: ImageFormat) => void,
  ) {
    sink.onSpace(() => this.drain());
    sink.onFailure(() => {
      for (const wake of this.idleWaiters.splice(0)) wake();
    });
  }

  attach(resume: () => void): void {
    this.resume = resume;
  }

  readBuffer(): Uint8Array {
    this.reservedTail = undefined;
    this.reservedStaging = undefined;
    if (this.format === 'raw' && !this.paused) {
      const tail = this.sink.space();
      // Zero copy: the socket fills the image slot itself.
      if (tail) return (this.reservedTail = tail);
    }
    if (this.format !== undefined && isCompressed(this.format) && !this.paused) {
      // The socket fills the digest's shared staging buffer, which the decoder then reads: no copy
      // on the main thread, the stage that bounds a zstd deploy (bench:deploy).
      if (this.staging && STAGING_SIZE - this.stagingFill < MIN_STAGED_READ) this.sendStaging();
      if (!this.staging && (this.stagingFree.length > 0 || this.stagingInflight <= STAGING_MAX)) {
        this.staging = this.stagingFree.pop() ?? new Uint8Array(new SharedArrayBuffer(STAGING_SIZE));
        this.stagingFill = 0;
      }
      if (this.staging) return (this.reservedStaging = this.staging.subarray(this.stagingFill));
    }
    return this.receive;
  }

  onRead(view: Uint8Array): boolean {
    this.served += view.byteLength;
    if (view === this.reservedTail || (this.reservedTail && view.buffer === this.reservedTail.buffer && view.byteOffset === this.reservedTail.byteOffset)) {
      this.reservedTail = undefined;
      this.sink.commit(view.byteLength);
      return true;
    }
    if (this.format === undefined) {
      this.headBytes = Buffer.concat([this.headBytes, view]);
      const format = detectImageFormatSoFar(this.headBytes);
      if (format === undefined) return true;
      try {
        this.startFormat(format);
      } catch (error) {
        this.sink.fail(error);
        return false;
      }
      view = this.headBytes;
      this.headBytes = Buffer.alloc(0);
    }
    // Bytes read into the reserved staging tail are staged already; any other view (the head,
    // a read that landed in `receive`) is copied in. Either way the decoder copies aside what it
    // cannot take now, so no view of a staging buffer outlives this call except the digest's.
    const reserved = this.reservedStaging;
    this.reservedStaging = undefined;
    if (reserved && view.buffer === reserved.buffer && view.byteOffset === reserved.byteOffset) {
      this.stagingFill += view.byteLength;
      if (this.stagingFill === STAGING_SIZE) this.sendStaging();
    } else if (isCompressed(this.format!)) {
      this.stage(view);
    }
    if (this.paused || this.stagingInflight > STAGING_MAX) {
      this.pending.push(this.copyAside(view));
      this.paused = true;
      return false;
    }
    return this.take(view);
  }

  /** Called when slots, the decoder or the digest worker freed up: feeds what was parked, then resumes the socket. */
  drain(): void {
    if (!this.paused || this.sink.failure) return;
    try {
      while (this.pending.length > 0) {
        const chunk = this.pending[0]!;
        const { consumed, pause } = this.process(chunk);
        if (consumed < chunk.byteLength) {
          this.pending[0] = chunk.subarray(consumed);
          return;
        }
        this.pending.shift();
        if (this.asideBuffers.has(chunk.buffer)) this.asideFree.push(new Uint8Array(chunk.buffer));
        if (pause) return;
      }
      if (this.decoder && this.decoder.push(new Uint8Array(0)).pause) return;
    } catch (error) {
      this.sink.fail(error);
      return;
    }
    if (this.stagingInflight > STAGING_MAX) return;
    const wasPaused = this.paused;
    this.paused = false;
    for (const wake of this.idleWaiters.splice(0)) wake();
    if (wasPaused) this.resume?.();
  }

  /** All served bytes are in: flushes the parked bytes, the decoder, the digest staging and the last slot. */
  async finish(): Promise<void> {
    if (this.format === undefined) {
      this.startFormat(detectImageFormat(this.headBytes));
      const head = this.headBytes;
      this.headBytes = Buffer.alloc(0);
      if (isCompressed(this.format!)) this.stage(head);
      if (head.byteLength > 0) this.pending.push(head);
      this.paused = true;
    }
    while (this.paused) {
      this.sink.throwIfFailed();
      const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      this.drain();
      if (this.paused && !this.sink.failure) await idle;
    }
    await this.decoder?.end();
    if (this.staging && this.stagingFill > 0) this.sendStaging();
    await this.lastStaging;
    this.sink.throwIfFailed();
    this.sink.flush();
    await this.sink.drain();
  }

  close(): void {
    this.decoder?.close();
  }

  private startFormat(format: ImageFormat): void {
    this.onFormat(format);
    this.format = format;
    if (format === 'zstd') this.decoder = createZstdDecoder(this.sink);
    else if (format === 'gzip') this.decoder = createGzipDecoder(this.sink);
    else if (format === 'xz') this.decoder = createXzDecoder(this.sink);
    this.decoder?.onReady(() => this.drain());
  }

  private take(view: Uint8Array): boolean {
    let result: { consumed: number; pause: boolean };
    try {
      result = this.process(view);
    } catch (error) {
      this.sink.fail(error);
      return false;
    }
    if (result.consumed < view.byteLength) {
      // take() only runs with nothing pending, so `parked` is free to reuse here.
      const rest = view.subarray(result.consumed);
      const parked = rest.byteLength <= this.parked.byteLength && this.pending.length === 0 ? this.parked.subarray(0, rest.byteLength) : new Uint8Array(rest.byteLength);
      parked.set(rest);
      this.pending.push(parked);
    }
    if (result.consumed < view.byteLength || result.pause) {
      this.paused = true;
      return false;
    }
    return true;
  }

  private copyAside(view: Uint8Array): Uint8Array {
    if (view.byteLength > RECEIVE_SIZE) return Uint8Array.prototype.slice.call(view);
    let buffer = this.asideFree.pop();
    if (!buffer) {
      buffer = new Uint8Array(RECEIVE_SIZE);
      this.asideBuffers.add(buffer.buffer);
    }
    buffer.set(view);
    return buffer.subarray(0, view.byteLength);
  }

  private process(view: Uint8Array): { consumed: number; pause: boolean } {
    if (this.decoder) return this.decoder.push(view);
    let consumed = 0;
    while (consumed < view.byteLength) {
      const space = this.sink.space();
      if (!space) return { consumed, pause: true };
      const count = Math.min(space.byteLength, view.byteLength - consumed);
      space.set(view.subarray(consumed, consumed + count));
      consumed += count;
      this.sink.commit(count);
    }
    return { consumed, pause: false };
  }

  /** Copies compressed bytes into shared memory for the digest worker, in order. */
  private stage(view: Uint8Array): void {
    let done = 0;
    while (done < view.byteLength) {
      this.staging ??= this.stagingFree.pop() ?? new Uint8Array(new SharedArrayBuffer(STAGING_SIZE));
      const count = Math.min(STAGING_SIZE - this.stagingFill, view.byteLength - done);
      this.staging.set(view.subarray(done, done + count), this.stagingFill);
      this.stagingFill += count;
      done += count;
      if (this.stagingFill === STAGING_SIZE) this.sendStaging();
    }
  }

  private sendStaging(): void {
    const buffer = this.staging!;
    const length = this.stagingFill;
    this.staging = undefined;
    this.stagingFill = 0;
    this.stagingInflight++;
    const done = this.worker.update('served', buffer.subarray(0, length)).then(
      () => {
        this.stagingInflight--;
        this.stagingFree.push(buffer);
        if (this.paused) this.drain();
      },
      (error: unknown) => this.sink.fail(new IngotError('INGOT_INTERNAL', { details: `hashing the served image failed: ${(error as Error).message}`, cause: error })),
    );
    this.lastStaging = done;
  }
}
