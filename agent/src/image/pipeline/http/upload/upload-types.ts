import type { SnapshotSegment, SnapshotTarget } from '@ingot/protocol';
import type { Logger } from 'pino';

export interface RetryInfo {
  /** The segment's index (0 for the one PUT of `http_put` and for `putJson`). */
  segment: number;
  /** The attempt that failed, from 1. */
  attempt: number;
  /** Attempts allowed in all (`retries + 1`). */
  attempts: number;
  /** What failed, safe to log (no URL query). */
  reason: string;
  waitMs: number;
}

export interface SnapshotUploadOptions {
  target: SnapshotTarget;
  /** An extra CA (PEM) for https URLs, besides the system's roots. */
  caPem?: string;
  /** Failed attempts tolerated per segment, default 4 (backoff 0.5 s doubling, at most 8 s). */
  retries?: number;
  /** Abort: stop at once, in-flight requests destroyed. */
  signal?: AbortSignal;
  /** URLs reach it only through redactUrl. */
  log: Logger;
  /** Each stored segment, for progress. */
  onSegment?(segment: SnapshotSegment): void;
  onRetry?(info: RetryInfo): void;
}

export interface SnapshotUpload {
  /**
   * Takes a chunk of the compressed stream, in order. The chunk's memory is
   * the caller's again once this resolves (copy what you keep). Resolves when
   * there is room for more: this is the backpressure. Rejects once the upload
   * failed for good.
   */
  write(chunk: Uint8Array): Promise<void>;
  /** The stream is complete: sends what is left, waits for every segment; the segments in order. */
  finish(): Promise<SnapshotSegment[]>;
  /** Stops everything (idempotent); no further request is made. */
  abort(reason: Error): Promise<void>;
}
