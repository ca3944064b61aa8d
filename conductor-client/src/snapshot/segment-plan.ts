/**
 * How many segment URLs a capture may need, before anything is read: the
 * worst case is data zstd cannot compress at all, so each frame's size is
 * its compress bound, plus the seek table at the end of the stream.
 */
import { IngotError } from '@ingot/protocol';

export const MiB = 1024 * 1024;
/** Swift's default `max_manifest_segments` (slo middleware): segments per manifest; the Swift store nests manifests beyond it. */
export const SWIFT_MAX_SEGMENTS = 1000;
/** S3's limit on part numbers. */
export const S3_MAX_PARTS = 10_000;
/** S3's smallest part but the last. */
export const S3_MIN_PART_BYTES = 5 * MiB;
export const DEFAULT_SEGMENT_SIZE = 64 * MiB;
/** The agent's default frame size (SnapshotCaptureParams.frame_size). */
export const DEFAULT_FRAME_SIZE = 4 * MiB;
/** The smallest frame the agent accepts: the most frames, so the largest bound. */
const MIN_FRAME_SIZE = MiB;

/** zstd.h's ZSTD_COMPRESSBOUND: the most one frame of `bytes` input can take. */
export function zstdCompressBound(bytes: number): number {
  return bytes + Math.floor(bytes / 256) + (bytes < 128 * 1024 ? Math.floor((128 * 1024 - bytes) / 2048) : 0);
}

/**
 * The most bytes the seekable stream of a `rawBytes` disk can take with
 * frames of `frameSize`: every frame at its bound (plus its 4-byte checksum),
 * then the seek table (a skippable frame: 8 bytes of header, 12 per frame
 * with checksums, 9 of footer).
 */
export function worstCaseImageBytes(rawBytes: number, frameSize = MIN_FRAME_SIZE): number {
  const frames = Math.max(1, Math.ceil(rawBytes / frameSize));
  const full = Math.floor(rawBytes / frameSize);
  const last = rawBytes - full * frameSize;
  const framesBytes = full * (zstdCompressBound(frameSize) + 4) + (last > 0 || full === 0 ? zstdCompressBound(last) + 4 : 0);
  return framesBytes + 8 + 12 * frames + 9;
}

export interface SegmentPlan {
  segmentSize: number;
  count: number;
}

/**
 * The segment size (`requested`, raised to whole MiB so that at most
 * `maxSegments` are needed) and how many URLs to sign.
 */
export function planSegments(rawBytes: number, options: { requested?: number; maxSegments: number; minSegmentSize?: number; frameSize?: number }): SegmentPlan {
  if (!Number.isSafeInteger(rawBytes) || rawBytes <= 0) throw new IngotError('INGOT_CONFIG_INVALID', { details: `the disk size must be a positive number of bytes, got ${rawBytes}` });
  const requested = options.requested ?? DEFAULT_SEGMENT_SIZE;
  const min = options.minSegmentSize ?? MiB;
  if (!Number.isSafeInteger(requested) || requested < min) {
    throw new IngotError('INGOT_CONFIG_INVALID', { details: `the segment size must be at least ${min / MiB} MiB, got ${requested} bytes` });
  }
  const worst = worstCaseImageBytes(rawBytes, options.frameSize ?? MIN_FRAME_SIZE);
  const needed = Math.ceil(Math.ceil(worst / options.maxSegments) / MiB) * MiB;
  const segmentSize = Math.max(requested, needed);
  return { segmentSize, count: Math.max(1, Math.ceil(worst / segmentSize)) };
}
