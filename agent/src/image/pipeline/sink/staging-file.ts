import { createHash, type Hash } from 'node:crypto';
import { IngotError } from '@ingot/protocol';
import type { OpenFile, System } from '../../../system/system.ts';
import type { DigestAlgorithm } from '../../request/checksums.ts';
import type { ServedDestination } from '../http/fetch-served.ts';
import type { BodyConsumer } from '../http/body-consumer.ts';

const READ_SIZE = 1024 * 1024;

/**
 * The bytes as served, written to a staging file and hashed on the way in
 * (the digest of exactly what the server sent, resumes included), for images
 * that must be complete and verified before a tool reads them (qcow2). Writes
 * are synchronous: the file sits on tmpfs in the ramdisk, where a write is a
 * memory copy, and it keeps the socket and the file in step without queues.
 * Created through the System, with mode 0600, never over an existing file.
 */
export class StagingFile implements BodyConsumer, ServedDestination {
  private readonly buffer = Buffer.allocUnsafe(READ_SIZE);
  private hash: Hash;
  private written = 0;
  private failure: Error | undefined;
  private checkedTotal: number | undefined;
  private abort: (() => void) | undefined;
  private closed = false;

  static async create(system: System, path: string, algorithm: DigestAlgorithm, totalOf: () => number | undefined): Promise<StagingFile> {
    return new StagingFile(system, await system.createFile(path, { mode: 0o600 }), path, algorithm, totalOf);
  }

  private constructor(
    private readonly system: System,
    private readonly file: OpenFile,
    readonly path: string,
    private readonly algorithm: DigestAlgorithm,
    private readonly totalOf: () => number | undefined,
  ) {
    this.hash = createHash(algorithm);
  }

  /** Stops the current attempt when a write fails. */
  onFailure(abort: () => void): void {
    this.abort = abort;
  }

  held(): number {
    return this.written;
  }

  async consumer(): Promise<BodyConsumer> {
    const total = this.totalOf();
    if (total !== undefined && total !== this.checkedTotal) {
      this.checkedTotal = total;
      await this.checkSpace(total - this.written);
    }
    return this;
  }

  async restart(): Promise<void> {
    await this.file.truncate(0);
    this.written = 0;
    this.hash = createHash(this.algorithm);
  }

  throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  readBuffer(): Uint8Array {
    return this.buffer;
  }

  attach(): void {
    // Never pauses: every read is written before the callback returns.
  }

  onRead(view: Uint8Array): boolean {
    if (this.failure) return false;
    try {
      this.file.writeAtSync(view, this.written);
    } catch (error) {
      this.failure = (error as NodeJS.ErrnoException).code === 'ENOSPC'
        ? this.noSpace(`it ran out of space after ${this.written} bytes`, error)
        : new IngotError('INGOT_IMAGE_WRITE', { details: `writing the staging file ${this.path} failed: ${(error as Error).message}`, cause: error });
      this.abort?.();
      return false;
    }
    this.hash.update(view);
    this.written += view.byteLength;
    return true;
  }

  /** Hex digest of everything held; call once, after the download. */
  digest(): string {
    return this.hash.digest('hex');
  }

  /** Idempotent: a descriptor closed twice could close a file someone else opened since. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.file.close();
  }

  /** Fails before the body is read when the file system cannot hold what the server announced (IPA: ImageDownloadOutofSpaceError). */
  private async checkSpace(needed: number): Promise<void> {
    const free = await this.system.freeSpace(this.path.slice(0, this.path.lastIndexOf('/')) || '/');
    if (free !== undefined && free < needed) {
      this.failure = this.noSpace(`the image needs ${needed} more bytes, ${free} are free`);
      throw this.failure;
    }
  }

  private noSpace(why: string, cause?: unknown): IngotError {
    const dir = this.path.slice(0, this.path.lastIndexOf('/'));
    return new IngotError('INGOT_IMAGE_NO_SPACE', {
      details: `staging the image in ${dir}: ${why}; a qcow2 image is downloaded whole before qemu-img converts it, so give the machine more memory, set a larger staging directory, or serve a raw (optionally zstd-compressed) image, which is streamed`,
      cause,
    });
  }
}
