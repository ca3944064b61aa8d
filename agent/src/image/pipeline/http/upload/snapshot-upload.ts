/**
 * The agent's snapshot uploader (issue 13): what `snapshot.capture` hands the
 * compressed stream to. `swift` and `s3` targets get segments sent alone with
 * retries from a bounded pool (segmented-upload.ts); `http_put` one streamed
 * PUT (streamed-put.ts). No URL reaches a log line or an error but through
 * redactUrl: the signatures are in their queries.
 */
import { IngotError, redactUrl } from '@ingot/protocol';
import type { Logger } from 'pino';
import { certificateRefused, createUploadAgent, describeStoreReason, parseUploadUrl, putBuffer } from './put-request.ts';
import { backoffMs, DEFAULT_UPLOAD_RETRIES, isCertificateError, isRetryableFailure, waitMs } from './retry-policy.ts';
import { openSegmentedUpload } from './segmented-upload.ts';
import { openStreamedPut } from './streamed-put.ts';
import type { SnapshotUpload, SnapshotUploadOptions } from './upload-types.ts';

export type { RetryInfo, SnapshotUpload, SnapshotUploadOptions } from './upload-types.ts';
export { DEFAULT_UPLOAD_RETRIES } from './retry-policy.ts';

export function openSnapshotUpload(options: SnapshotUploadOptions): SnapshotUpload {
  const retries = checkRetries(options.retries);
  const { target } = options;
  switch (target.type) {
    case 'http_put':
      return openStreamedPut({ url: target.url, caPem: options.caPem, retries, signal: options.signal, log: options.log, onRetry: options.onRetry });
    case 'swift':
      return openSegmentedUpload({ kind: 'swift', urls: target.segment_urls, segmentSize: target.segment_size, caPem: options.caPem, retries, signal: options.signal, log: options.log, onSegment: options.onSegment, onRetry: options.onRetry });
    case 's3':
      return openSegmentedUpload({ kind: 's3', urls: target.part_urls, segmentSize: target.segment_size, caPem: options.caPem, retries, signal: options.signal, log: options.log, onSegment: options.onSegment, onRetry: options.onRetry });
    default:
      throw new IngotError('INGOT_SNAPSHOT_UPLOAD', { status: 400, details: `unknown target type ${JSON.stringify((target as { type: unknown }).type)}; use http_put, swift or s3` });
  }
}

/** PUT a small JSON document (the manifest) with retries; for http_put's manifest_url. */
export async function putJson(url: string, body: unknown, options: { caPem?: string; retries?: number; signal?: AbortSignal; log: Logger }): Promise<void> {
  const retries = checkRetries(options.retries);
  const parsed = parseUploadUrl(url, 'the manifest URL');
  const where = redactUrl(parsed);
  const bytes = Buffer.from(JSON.stringify(body));
  const signal = options.signal ?? new AbortController().signal;
  const { agent, destroy } = createUploadAgent(parsed, { caPem: options.caPem, maxSockets: 1 });
  try {
    const attempts = retries + 1;
    for (let attempt = 1; ; attempt += 1) {
      let status: number | null = null;
      let reason: string;
      try {
        const answer = await putBuffer(parsed, bytes, { agent, signal, headers: { 'Content-Type': 'application/json' } });
        if (answer.status >= 200 && answer.status < 300) {
          options.log.info({ bytes: bytes.length, url: where }, 'snapshot manifest stored');
          return;
        }
        status = answer.status;
        reason = `HTTP ${status} ${describeStoreReason(answer.body, parsed)}`.trim();
      } catch (error) {
        if (signal.aborted) throw signal.reason as Error;
        if (isCertificateError(error)) throw certificateRefused(`PUT of the manifest to ${where}`, error as NodeJS.ErrnoException);
        reason = `no answer: ${(error as Error).message}`;
      }
      if (!isRetryableFailure(status)) throw new IngotError('INGOT_SNAPSHOT_UPLOAD', { details: `PUT of the manifest to ${where} refused, not retried: ${reason}` });
      if (attempt >= attempts) throw new IngotError('INGOT_SNAPSHOT_UPLOAD', { details: `PUT of the manifest to ${where} failed ${attempts} times; last: ${reason}` });
      const wait = backoffMs(attempt);
      options.log.warn({ attempt, attempts, reason, waitMs: wait }, 'snapshot manifest PUT failed, retrying');
      await waitMs(wait, signal);
    }
  } finally {
    destroy();
  }
}

function checkRetries(retries: number | undefined): number {
  if (retries === undefined) return DEFAULT_UPLOAD_RETRIES;
  if (!Number.isInteger(retries) || retries < 0 || retries > 100) {
    throw new IngotError('INGOT_SNAPSHOT_UPLOAD', { status: 400, details: `retries must be an integer from 0 to 100, got ${retries}` });
  }
  return retries;
}
