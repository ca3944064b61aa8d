import type { Logger } from 'pino';
import type { SnapshotUpload, SnapshotUploadOptions } from '../image/pipeline/http/upload/upload-types.ts';

export type { SnapshotUpload, SnapshotUploadOptions };

/**
 * The uploader the capture writes through: `image/pipeline/http/upload/`'s
 * (the upload's HTTP client belongs beside the download's), the default in
 * snapshot-deps.ts, or an in-memory one a test gives. Its types are that
 * module's own.
 */
export interface SnapshotUploader {
  openSnapshotUpload(options: SnapshotUploadOptions): SnapshotUpload;
  putJson(url: string, body: unknown, options: { caPem?: string; retries?: number; signal?: AbortSignal; log: Logger }): Promise<void>;
}
