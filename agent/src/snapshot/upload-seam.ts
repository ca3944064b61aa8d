import type { Logger } from 'pino';
import type { SnapshotSegment, SnapshotTarget } from '@ingot/protocol';

/**
 * The uploader the capture writes through, as
 * `image/pipeline/http/upload/snapshot-upload.ts` exports it (the upload's HTTP
 * client belongs beside the download's). The capture takes these functions as
 * a dependency, so it is tested with an in-memory uploader and the agent's
 * composition root passes the real one.
 */
export interface SnapshotUpload {
  write(chunk: Uint8Array): Promise<void>;
  /** Ends the stream; the segments stored, in order (empty for http_put). */
  finish(): Promise<SnapshotSegment[]>;
  abort(reason: Error): Promise<void>;
}

export interface SnapshotUploadOptions {
  target: SnapshotTarget;
  caPem?: string;
  retries?: number;
  signal?: AbortSignal;
  log: Logger;
  onSegment?(segment: SnapshotSegment): void;
  onRetry?(info: { segment: number; attempt: number; attempts: number; reason: string; waitMs: number }): void;
}

export interface SnapshotUploader {
  openSnapshotUpload(options: SnapshotUploadOptions): SnapshotUpload;
  putJson(url: string, body: unknown, options: { caPem?: string; retries?: number; signal?: AbortSignal; log: Logger }): Promise<void>;
}
