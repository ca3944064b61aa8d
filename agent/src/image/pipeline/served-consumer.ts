import { IngotError } from '@ingot/protocol';
import { createGzipDecoder, createXzDecoder, type Decoder } from './decode/decoders.ts';
import type { DigestWorker } from './digest/digest-worker.ts';
import { detectImageFormat, detectImageFormatSoFar, type ImageFormat } from './decode/format.ts';
import type { BodyConsumer } from './http/body-consumer.ts';
import type { ImageSink } from './sink/image-sink.ts';
import type { System } from '../../system/system.ts';
import { createZstdDecoder } from './decode/zstd-decoder.ts';
import { createParallelZstdDecoder, suitsParallelDecode } from './decode/parallel-zstd-decoder.ts';
import { readZstdContentSize } from './decode/zstd-frame-header.ts';

/**
 * Reused socket read buffer for reads with no better place to land (the
 * head, reads while paused). 256 KiB rather than perf-limits.md 7's 1 MiB:
 * reads that arrive while paused are copied aside, and 1 MiB copies piled up
 * as garbage (peak RSS), for no measurable speed.
 */
const RECEIVE_SIZE = 256 * 1024;
/** Compressed bytes land in shared staging buffers of this size, read by the digest worker and the decoder. */
const STAGING_SIZE = 256 * 1024;
/** A staging buffer with less room than this is sent on before the next read. */
const MIN_STAGED_READ = 16 * 1024;
/**
 * Staging buffers the digest and the decoder may lag behind by before the
 * socket pauses: 4 MiB of compressed input. With 6 (1.5 MiB) the zstd worker
 * waited for input a third longer (bench:deploy, instrumented).
 */
const STAGING_MAX = 16;

/**
 * Takes the bytes as served, across connections and resumes, and detects the
 * format. Raw images are read by the kernel straight into the image slots,
 * whose digest is taken there; what cannot be taken yet is parked while the
 * socket pauses. Compressed images are read into shared staging buffers that
 * the digest worker and the decoder both read, and the socket pauses while
 * too many are busy. Either way the served bytes are hashed exactly once and
 * copied at most once on the main thread.
 */
export class ServedConsumer implements BodyConsumer {
  /** Served bytes taken so far: where a resumed request starts. */
  served = 0;
  format: ImageFormat | undefined;
  private decoder: Decoder | undefined;
  private readonly receive = Buffer.allocUnsafe(RECEIVE_SIZE);
  // Where the unconsumed rest of a raw read waits while the socket is paused. One reused buffer:
  // a fresh copy each time cost ~40 MB of RSS.
  private readonly parked = Buffer.allocUnsafe(RECEIVE_SIZE);
  private headBytes = Buffer.alloc(0);
  private pending: Uint8Array[] = [];
  // Raw reads that arrive while paused are copied aside into these, reused: fresh copies were
  // garbage that only a GC returned.
  private readonly asideFree: Uint8Array[] = [];
  private readonly asideBuffers = new Set<ArrayBufferLike>();
  private paused = false;
  private resume: (() => void) | undefined;
  private reservedTail: Uint8Array | undefined;
  private reservedStaging: Uint8Array | undefined;
  private staging: Uint8Array | undefined;
  private stagingFill = 0;
  /** Staging buffers sent and not yet given back by both the digest worker and the decoder. */
  private stagingBusy = 0;
  private stagingFree: Uint8Array[] = [];
  private lastStaging: Promise<void> = Promise.resolve();
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly sink: ImageSink,
    private readonly worker: DigestWorker,
    /** Runs the xz tool for xz images. */
    private readonly system: System,
    /**
     * Called once the format is known, with the stream's first bytes (a zstd
     * frame's whole header among them), before any byte reaches the sink; may
     * throw (e.g. qcow2, too large).
     */
    private readonly onFormat: (format: ImageFormat, head: Uint8Array) => void,
    /** Threads for a zstd stream of many frames (parallel-zstd-decoder.ts); one per core (at least 2) by default. */
    private readonly zstdWorkers?: number,
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
    if (this.decoder && !this.paused) {
      // The socket fills a shared staging buffer, which the digest worker and the decoder then
      // read: no copy on the main thread.
      if (this.staging && STAGING_SIZE - this.stagingFill < MIN_STAGED_READ) this.sendStaging();
      if (!this.staging && (this.stagingFree.length > 0 || this.stagingBusy < STAGING_MAX)) {
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
      // A zstd frame's header says how large the image is: it is read whole before anything is written.
      if (format === 'zstd' && readZstdContentSize(this.headBytes).state === 'incomplete') return true;
      try {
        this.startFormat(format, this.headBytes);
      } catch (error) {
        this.sink.fail(error);
        return false;
      }
      view = this.headBytes;
      this.headBytes = Buffer.alloc(0);
    }
    if (this.decoder) {
      // Bytes read into the reserved staging tail are staged already; any other view (the head,
      // a read that landed in `receive` while paused) is copied in.
      const reserved = this.reservedStaging;
      this.reservedStaging = undefined;
      if (reserved && view.buffer === reserved.buffer && view.byteOffset === reserved.byteOffset) {
        this.stagingFill += view.byteLength;
        if (this.stagingFill === STAGING_SIZE) this.sendStaging();
      } else {
        this.stage(view);
      }
      if (this.stagingBusy < STAGING_MAX) return true;
      this.paused = true;
      return false;
    }
    if (this.paused) {
      this.pending.push(this.copyAside(view));
      return false;
    }
    return this.take(view);
  }

  /** Called when slots or staging buffers freed up: feeds what was parked, then resumes the socket. */
  drain(): void {
    if (!this.paused || this.sink.failure) return;
    if (this.decoder) {
      if (this.stagingBusy >= STAGING_MAX) return;
    } else {
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
      } catch (error) {
        this.sink.fail(error);
        return;
      }
    }
    this.paused = false;
    for (const wake of this.idleWaiters.splice(0)) wake();
    this.resume?.();
  }

  /** All served bytes are in: flushes the parked bytes or the staging, the decoder and the last slot. */
  async finish(): Promise<void> {
    if (this.format === undefined) {
      this.startFormat(detectImageFormat(this.headBytes), this.headBytes);
      const head = this.headBytes;
      this.headBytes = Buffer.alloc(0);
      if (this.decoder) this.stage(head);
      else if (head.byteLength > 0) {
        this.pending.push(head);
        this.paused = true;
      }
    }
    if (this.decoder) {
      if (this.staging && this.stagingFill > 0) this.sendStaging();
      await this.lastStaging;
      this.sink.throwIfFailed();
      await this.decoder.end();
    }
    while (this.paused && !this.decoder) {
      this.sink.throwIfFailed();
      const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      this.drain();
      if (this.paused && !this.sink.failure) await idle;
    }
    this.sink.throwIfFailed();
    this.sink.flush();
    await this.sink.drain();
  }

  /** zstd frames the decoder walked, when it walks frames (a stream of many, decoded in parallel). */
  get frames(): number | undefined {
    return this.decoder?.frames;
  }

  /** Stops the decoder; resolves once it can no longer write into the image slots. */
  async close(): Promise<void> {
    await this.decoder?.close();
  }

  private startFormat(format: ImageFormat, head: Uint8Array): void {
    this.onFormat(format, head);
    this.format = format;
    if (format === 'zstd') this.decoder = this.createZstd(head);
    else if (format === 'gzip') this.decoder = createGzipDecoder(this.sink);
    else if (format === 'xz') this.decoder = createXzDecoder(this.sink, this.system);
  }

  /**
   * A first frame that records a small, block-aligned content size is how
   * Ingot's snapshots (and other many-frame streams) begin: those decode a
   * frame per thread. A stream of one large frame, or one without sizes,
   * keeps the single decoder, which needs no frame sizes.
   */
  private createZstd(head: Uint8Array): Decoder {
    const first = readZstdContentSize(head);
    if (first.state === 'known' && suitsParallelDecode(first.bytes)) return createParallelZstdDecoder(this.sink, { workers: this.zstdWorkers });
    return createZstdDecoder(this.sink);
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

  /** Copies raw bytes into the slots, as far as free slots go. */
  private process(view: Uint8Array): { consumed: number; pause: boolean } {
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

  /** Hands a filled staging buffer to the digest worker and the decoder; it is reused once both are done with it. */
  private sendStaging(): void {
    const buffer = this.staging!;
    const view = buffer.subarray(0, this.stagingFill);
    this.staging = undefined;
    this.stagingFill = 0;
    this.stagingBusy++;
    const hashed = this.worker.update('served', view).catch((error: unknown) => {
      throw new IngotError('INGOT_INTERNAL', { details: `hashing the served image failed: ${(error as Error).message}`, cause: error });
    });
    // Both consumers take their messages in order, so the last buffer settling means all did.
    this.lastStaging = Promise.all([hashed, this.decoder!.feed(view)]).then(
      () => {
        this.stagingBusy--;
        this.stagingFree.push(buffer);
        this.drain();
      },
      (error: unknown) => this.sink.fail(error),
    );
  }
}
