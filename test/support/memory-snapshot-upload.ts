import { createHash } from 'node:crypto';
import type { SnapshotSegment } from '@ingot/protocol';
import type { SnapshotUpload, SnapshotUploader, SnapshotUploadOptions } from '@ingot/agent';

/**
 * An uploader for the capture's tests (never the agent's): it keeps the
 * stream in memory, cuts it into segments as a segmented target would
 * (with their md5 and sha256), and records what was finished, aborted and
 * stored. `holdWrites` makes every write wait until `releaseWrites` (or an
 * abort), so a test can act while a capture is midway.
 */
export interface MemoryUploader extends SnapshotUploader {
  /** Every upload opened, in order. */
  uploads: MemoryUpload[];
  /** The manifests PUT with putJson, by URL. */
  manifests: Map<string, unknown>;
  holdWrites(): void;
  releaseWrites(): void;
  /** Resolves once a write is waiting on the hold. */
  writeHeld(): Promise<void>;
  /** The next write (of any upload) fails with `error`, as a store refusing a segment after its retries. */
  failNextWrite(error: Error): void;
  /** The next putJson fails with `error`. */
  failNextManifest(error: Error): void;
}

export interface MemoryUpload {
  options: SnapshotUploadOptions;
  chunks: Buffer[];
  finished: boolean;
  aborted: Error | null;
  /** Everything written. */
  bytes(): Buffer;
}

export function createMemoryUploader(): MemoryUploader {
  const uploads: MemoryUpload[] = [];
  const manifests = new Map<string, unknown>();
  let hold: { promise: Promise<void>; release: () => void } | undefined;
  let heldNow: () => void = () => undefined;
  let held = new Promise<void>((resolve) => { heldNow = resolve; });
  let writeFailure: Error | undefined;
  let manifestFailure: Error | undefined;

  return {
    uploads, manifests,
    holdWrites() {
      let release!: () => void;
      const promise = new Promise<void>((resolve) => { release = resolve; });
      hold = { promise, release };
      held = new Promise<void>((resolve) => { heldNow = resolve; });
    },
    releaseWrites() {
      hold?.release();
      hold = undefined;
    },
    writeHeld: () => held,
    failNextWrite(error) { writeFailure = error; },
    failNextManifest(error) { manifestFailure = error; },
    openSnapshotUpload(options): SnapshotUpload {
      const upload: MemoryUpload = { options, chunks: [], finished: false, aborted: null, bytes: () => Buffer.concat(upload.chunks) };
      uploads.push(upload);
      let abortWait: (error: Error) => void = () => undefined;
      return {
        async write(chunk) {
          if (upload.aborted) throw upload.aborted;
          const failure = writeFailure;
          writeFailure = undefined;
          if (failure) throw failure;
          // A copy: the chunk is the compressor's slot, reused once this resolves.
          upload.chunks.push(Buffer.from(chunk));
          if (hold) {
            heldNow();
            await Promise.race([hold.promise, new Promise<void>((_, reject) => { abortWait = reject; })]);
          }
        },
        async finish() {
          if (upload.aborted) throw upload.aborted;
          upload.finished = true;
          const target = options.target;
          if (target.type === 'http_put') return [];
          const all = upload.bytes();
          const segments: SnapshotSegment[] = [];
          for (let at = 0, index = 0; at < all.length; at += target.segment_size, index += 1) {
            const piece = all.subarray(at, at + target.segment_size);
            const md5 = createHash('md5').update(piece).digest('hex');
            const segment = { index, bytes: piece.length, md5, sha256: createHash('sha256').update(piece).digest('hex'), etag: md5, attempts: 1 };
            options.onSegment?.(segment);
            segments.push(segment);
          }
          return segments;
        },
        async abort(reason) {
          upload.aborted = reason;
          abortWait(reason);
        },
      };
    },
    async putJson(url, body) {
      const failure = manifestFailure;
      manifestFailure = undefined;
      if (failure) throw failure;
      manifests.set(url, JSON.parse(JSON.stringify(body)));
    },
  };
}
