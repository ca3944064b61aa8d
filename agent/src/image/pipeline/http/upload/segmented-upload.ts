import { IngotError, redactUrl, type SnapshotSegment } from '@ingot/protocol';
import type { Logger } from 'pino';
import { certificateRefused, createUploadAgent, describeStoreReason, parseUploadUrl, putBuffer } from './put-request.ts';
import { backoffMs, isCertificateError, isRetryableFailure, waitMs } from './retry-policy.ts';
import { SegmentPool } from './segment-pool.ts';
import { createSegmenter, type FilledSegment } from './segmenter.ts';
import type { RetryInfo, SnapshotUpload } from './upload-types.ts';

/**
 * Swift temp URLs and S3 presigned part URLs: the stream cut into segments of
 * exactly `segmentSize` bytes, each PUT alone with its Content-Length and MD5
 * (Swift: `ETag: <hex>`, which it checks and answers 422 on a mismatch; S3:
 * `Content-MD5: <base64>`, 400 BadDigest), so a failed segment is sent again
 * alone from memory.
 *
 * Memory: 3 segments at most (the one being filled and up to 2 being sent),
 * which also bounds the concurrency to 2 PUTs: one segment fills while two
 * upload, which keeps the link busy while a store answers a segment (Swift's
 * proxy answers only once the object server fsynced it). Nothing is staged on
 * disk.
 */
export const SEGMENTS_IN_MEMORY = 3;
export const CONCURRENT_SEGMENTS = 2;

export interface SegmentedUploadOptions {
  kind: 'swift' | 's3';
  urls: readonly string[];
  segmentSize: number;
  caPem?: string;
  retries: number;
  signal?: AbortSignal;
  log: Logger;
  onSegment?(segment: SnapshotSegment): void;
  onRetry?(info: RetryInfo): void;
}

export function openSegmentedUpload(options: SegmentedUploadOptions): SnapshotUpload {
  const { kind, urls, segmentSize, retries, log } = options;
  if (urls.length === 0) throw new IngotError('INGOT_SNAPSHOT_UPLOAD', { status: 400, details: `the ${kind} target gave no segment URLs` });
  if (!Number.isSafeInteger(segmentSize) || segmentSize < 1) throw new IngotError('INGOT_SNAPSHOT_UPLOAD', { status: 400, details: `segment_size must be a positive integer of bytes, got ${segmentSize}` });
  const parsed = urls.map((url, index) => parseUploadUrl(url, `segment URL ${index}`));
  // One keep-alive agent serves every segment: it is http's or https's.
  const mixed = parsed.findIndex((url) => url.protocol !== parsed[0]!.protocol);
  if (mixed >= 0) throw new IngotError('INGOT_SNAPSHOT_UPLOAD', { status: 400, details: `segment URL ${mixed} is ${parsed[mixed]!.protocol} but segment URL 0 is ${parsed[0]!.protocol}; give them all one scheme` });
  const controller = new AbortController();
  const stopped = controller.signal;
  const pool = new SegmentPool(SEGMENTS_IN_MEMORY, segmentSize);
  const { agent, destroy } = createUploadAgent(parsed[0]!, { caPem: options.caPem, maxSockets: CONCURRENT_SEGMENTS });
  const stored: SnapshotSegment[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: Error | undefined;
  let finishing: Promise<SnapshotSegment[]> | undefined;

  const fail = (error: Error) => {
    if (failure) return;
    failure = error;
    pool.fail(error);
    // Every request in flight is destroyed; no new one starts (each attempt checks `stopped`).
    controller.abort(error);
    destroy();
  };
  const onOuterAbort = () => fail(abortError(options.signal!.reason));
  if (options.signal?.aborted) onOuterAbort();
  else options.signal?.addEventListener('abort', onOuterAbort, { once: true });

  const sendSegment = async (segment: FilledSegment): Promise<void> => {
    const url = parsed[segment.index]!;
    const where = `segment ${segment.index} (${redactUrl(url)})`;
    const headers: Record<string, string> = kind === 'swift'
      ? { ETag: segment.md5 }
      : { 'Content-MD5': Buffer.from(segment.md5, 'hex').toString('base64') };
    const attempts = retries + 1;
    for (let attempt = 1; ; attempt += 1) {
      if (stopped.aborted) throw stopped.reason as Error;
      let status: number | null = null;
      let reason: string;
      try {
        const answer = await putBuffer(url, segment.buffer.subarray(0, segment.bytes), { agent, headers, signal: stopped });
        status = answer.status;
        if (status >= 200 && status < 300) {
          if (answer.etag !== null && answer.etag.toLowerCase() !== segment.md5) {
            throw new IngotError('INGOT_SNAPSHOT_UPLOAD', { details: `${where}: the store answered ETag ${answer.etag}, not the segment's MD5 ${segment.md5}; the stored bytes differ from those sent` });
          }
          const result: SnapshotSegment = { index: segment.index, bytes: segment.bytes, md5: segment.md5, sha256: segment.sha256, etag: answer.etag, attempts: attempt };
          log.debug({ segment: segment.index, bytes: segment.bytes, attempts: attempt }, 'snapshot segment stored');
          return storedSegment(result);
        }
        reason = `HTTP ${status} ${describeStoreReason(answer.body, url)}`.trim();
      } catch (error) {
        if (error instanceof IngotError || stopped.aborted) throw stopped.aborted ? (stopped.reason as Error) : error;
        if (isCertificateError(error)) throw certificateRefused(where, error as NodeJS.ErrnoException);
        reason = `no answer: ${(error as Error).message}`;
      }
      if (!isRetryableFailure(status)) {
        const hint = status === 401 || status === 403 ? '; the URL expired or its signature is wrong: ask the conductor for new URLs' : '';
        throw new IngotError('INGOT_SNAPSHOT_UPLOAD', { details: `${where} refused, not retried: ${reason}${hint}` });
      }
      if (attempt >= attempts) {
        throw new IngotError('INGOT_SNAPSHOT_UPLOAD', { details: `${where} failed ${attempts} times; last: ${reason}` });
      }
      const wait = backoffMs(attempt);
      log.warn({ segment: segment.index, attempt, attempts, reason, waitMs: wait }, 'snapshot segment failed, retrying');
      options.onRetry?.({ segment: segment.index, attempt, attempts, reason, waitMs: wait });
      await waitMs(wait, stopped);
    }
  };
  const storedSegment = (result: SnapshotSegment) => {
    stored.push(result);
    options.onSegment?.(result);
  };

  const segmenter = createSegmenter({
    segmentSize,
    maxSegments: urls.length,
    acquire: () => pool.acquire(),
    tooMany: () => new IngotError('INGOT_SNAPSHOT_UPLOAD', {
      status: 400,
      details: `the target gave ${urls.length} segment URLs of ${segmentSize} bytes: the image needs more; give more URLs or a larger segment_size`,
    }),
    emit: (segment) => {
      const sending = sendSegment(segment).then(
        () => { if (segment.bytes > 0) pool.release(segment.buffer); },
        (error: Error) => fail(error),
      ).finally(() => inFlight.delete(sending));
      inFlight.add(sending);
    },
  });

  const settleAll = async () => {
    while (inFlight.size > 0) await Promise.all(inFlight);
  };

  return {
    async write(chunk) {
      if (failure) throw failure;
      if (finishing) throw new Error('write after finish');
      try {
        await segmenter.write(chunk);
      } catch (error) {
        fail(error as Error);
        throw failure;
      }
      if (failure) throw failure;
    },
    finish() {
      finishing ??= (async () => {
        try {
          if (failure) throw failure;
          segmenter.end();
          await settleAll();
          if (failure) throw failure;
          stored.sort((a, b) => a.index - b.index);
          log.info({ segments: stored.length, bytes: segmenter.bytes, retried: stored.filter((s) => s.attempts > 1).length }, 'snapshot segments stored');
          return stored;
        } finally {
          options.signal?.removeEventListener('abort', onOuterAbort);
          destroy();
        }
      })();
      return finishing;
    },
    async abort(reason) {
      fail(reason);
      options.signal?.removeEventListener('abort', onOuterAbort);
      await settleAll();
    },
  };
}

export function abortError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(`the snapshot upload was aborted: ${String(reason)}`);
}
