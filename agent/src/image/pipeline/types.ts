import type { Logger } from 'pino';
import type { System } from '../../system/system.ts';
import type { DigestAlgorithm, ExpectedDigest } from '../request/checksums.ts';
import type { ImageFormat } from './decode/format.ts';
import type { RangeRead } from './http/read-range.ts';

export interface BackoffOptions {
  /** First wait after a failure, in ms. */
  initialMs: number;
  /** Upper bound of a single wait, in ms. */
  maxMs: number;
  /** Growth per consecutive failure. */
  factor: number;
}

export interface WriteImageOptions {
  /** No byte for this long (while we are not the ones pausing) aborts the attempt, which is then retried. */
  stallTimeoutMs: number;
  /** The whole write, retries included; 0 means no limit (IPA's image_download_max_duration). */
  totalTimeoutMs: number;
  /** Failed attempts in a row, without a new byte received, that are tolerated (IPA: 9 connection retries). */
  retries: number;
  backoff: BackoffOptions;
  /** Re-read the written bytes and compare with a digest taken while writing. */
  verifyReadback?: boolean;
  /**
   * All-zero 4 MiB blocks of the image (perf-limits.md 3):
   * - 'verified' (the default): skipped where the target zeros ranges itself
   *   (a block device with write-zeroes offload, a disk file's punched holes);
   *   the skipped ranges are zeroed that way and sampled back before success,
   *   and written with zeros where that fails (zero-runs.ts). Written otherwise.
   * - 'if-device-reads-zero': skipped on the caller's word that the target
   *   already reads back zeros everywhere (a fresh sparse file); nothing checks it.
   * - 'never': always written.
   */
  skipZeroBlocks?: 'never' | 'verified' | 'if-device-reads-zero';
  /**
   * Threads decoding a zstd image of many frames (a snapshot) frame by frame;
   * one per core, at least 2, by default (pipeline/decode/parallel-zstd-decoder.ts).
   */
  zstdThreads?: number;
  /** Minimum interval between onProgress calls and progress log lines; default 1000 ms. */
  progressIntervalMs?: number;
  /**
   * Where an image that cannot be streamed (qcow2) is downloaded before
   * qemu-img converts it; default the OS temporary directory (the ramdisk's
   * tmpfs, so the image must fit in memory, as with IPA, 9.5).
   */
  stagingDir?: string;
}

export interface WriteImageProgress {
  /** Served (as downloaded) bytes so far and in total (total undefined until the first response). */
  bytesDone: number;
  bytesTotal: number | undefined;
  /** Image bytes written to the target (decompressed). */
  bytesWritten: number;
  /** Served bytes per second since the start. */
  rateBytesPerSecond: number;
  etaSeconds: number | undefined;
  format: ImageFormat | undefined;
  /**
   * 'convert' while qemu-img writes a staged image: bytesDone and bytesTotal
   * then count image bytes written of the virtual size. Otherwise served bytes.
   */
  phase?: 'download' | 'convert';
  /** Set while the download waits to try again after a failed attempt; cleared once bytes flow. */
  retry?: DownloadRetry;
}

/**
 * Checks beyond the digest of the file as served, for an image that comes
 * with its own description (a snapshot's `ingot_snapshot`, deploy/snapshot-check.ts).
 * With them the pipeline also takes the sha256 of the image bytes written.
 */
export interface ImageExpectations {
  /**
   * Before the first byte is written; `readRange(start, length)` reads bytes
   * of the first URL with one Range request. Throws to refuse the image.
   */
  beforeWrite(readRange: (start: number, length: number) => Promise<RangeRead>, target: { size: number }): Promise<void>;
  /** Once the format is known, before anything is written; throws to refuse it. */
  checkFormat(format: ImageFormat): void;
  /** After the stream was written and its served digest matched; throws to fail (the target is then wiped). */
  afterWrite(written: { servedBytes: number; imageBytes: number; frames: number | undefined; imageSha256: string }): void;
}

export interface WriteImageRequest {
  urls: readonly string[];
  /** Digest of the file as served (compressed if it is), like Glance's os_hash_value. */
  expectedDigest: ExpectedDigest;
  /** `size` is the capacity of the target in bytes; nothing is written past it. */
  target: { path: string; size: number };
  /** The host: the target, the staging file and the tools all go through it, and its guard. */
  system: System;
  caPem?: string;
  /**
   * http://host:port proxy (https URLs through CONNECT): one for every URL, or
   * chosen per URL, redirects included (image/request/proxy-for.ts: scheme, no_proxy).
   */
  proxy?: string | ((url: URL) => string | undefined);
  /**
   * The conductor's `disk_format`, cross-checked with the format the bytes
   * show (pipeline/decode/format.ts checkImageFormat, as IPA does, 9.5); undefined,
   * empty or `unknown` accept whatever is detected.
   */
  declaredFormat?: string | null;
  expectations?: ImageExpectations;
  signal?: AbortSignal;
  log: Logger;
  onProgress?: (progress: WriteImageProgress) => void;
  options: WriteImageOptions;
}

export interface WriteImageResult {
  format: ImageFormat;
  /** Bytes of the image as written (decompressed). */
  imageBytes: number;
  /** Bytes of the file as served. */
  servedBytes: number;
  digest: { algorithm: DigestAlgorithm; value: string };
  /** sha256 of the image bytes re-read from the target (or the served algorithm for raw images), when verified. */
  readbackDigest?: string;
  /** Token-free form of the URL the last bytes came from. */
  url: string;
  attempts: number;
  resumes: number;
  restarts: number;
  /** Zero blocks not written: zeroed by the target itself and verified, or (given 'if-device-reads-zero') trusted. */
  skippedZeroBytes: number;
  /** Skipped zero bytes the target did not zero provably, written as zeros at the end instead. */
  zeroFallbackBytes: number;
  durationMs: number;
}

/** A download waiting to try again. */
export interface DownloadRetry {
  /** The attempt to come (2 after the first failure) and how many are allowed in a row (retries + 1). */
  attempt: number;
  attempts: number;
  waitMs: number;
  /** Why the last attempt failed, without the URL: `cannot connect: connect ECONNREFUSED 127.0.0.1:9`. */
  reason: string;
  /** The URL that failed, redacted. */
  url: string;
}
