import { describeInput, IngotError, MAX_SNAPSHOT_SEGMENTS, type SnapshotTarget } from '@ingot/protocol';
import { DEFAULT_FRAME_SIZE, DEFAULT_LEVEL } from './compress-frames.ts';

const MiB = 1024 * 1024;
/** S3 refuses parts under 5 MiB but the last (its multipart upload limits). */
export const MIN_S3_SEGMENT_SIZE = 5 * MiB;
/** Swift takes any size; under 1 MiB the per-segment requests cost more than they carry. */
export const MIN_SWIFT_SEGMENT_SIZE = MiB;
export const DEFAULT_SEGMENT_RETRIES = 4;

/** `snapshot.capture`'s parameters, checked, with the defaults filled in. */
export interface CaptureRequest {
  device: string | null;
  rootDeviceHints: Record<string, unknown> | null;
  /** Ascending, without duplicates; null for the whole disk. */
  partitions: number[] | null;
  frameSize: number;
  level: number;
  target: SnapshotTarget;
  segmentRetries: number;
}

/** What the capture command and step take as arguments (argsinfo), in the words of SnapshotCaptureParams. */
export const CAPTURE_ARGSINFO = {
  device: { description: 'The disk to capture by name (/dev/sda); else root_device_hints choose it, else the root device as a deploy chooses it.', required: false },
  root_device_hints: { description: 'Root device hints (as in properties.root_device) choosing the disk when device is not given.', required: false },
  partitions: { description: 'Partition numbers to capture; the image then holds the partition table and these partitions, every other byte as zeros. Absent: the whole disk.', required: false },
  frame_size: { description: 'Bytes of disk per zstd frame: a multiple of 1 MiB from 1 to 64 MiB; default 4 MiB.', required: false },
  level: { description: 'zstd level, 1 to 19; default 3.', required: false },
  target: { description: 'Where the image goes: {type: http_put, url, manifest_url?}, {type: swift, segment_urls, segment_size} or {type: s3, part_urls, segment_size}; short-lived signed URLs.', required: true },
  segment_retries: { description: 'Failed attempts tolerated per segment; default 4.', required: false },
} as const;

function invalid(details: string): IngotError {
  return new IngotError('INGOT_INVALID_PARAMS', { details });
}

/**
 * Checks the shape of the parameters (pure: whether the disk and its
 * partitions exist is checked against the disk itself, in capture-disk.ts).
 * Every message names the field and what would be accepted.
 */
export function parseCaptureParams(params: Record<string, unknown>): CaptureRequest {
  const { device, root_device_hints: hints, partitions, frame_size: frameSize = DEFAULT_FRAME_SIZE, level = DEFAULT_LEVEL, segment_retries: retries = DEFAULT_SEGMENT_RETRIES } = params;
  if (device !== undefined && device !== null && (typeof device !== 'string' || !device.startsWith('/'))) throw invalid(`device must be an absolute device path such as /dev/sda, not ${describeInput(device)}`);
  if (hints !== undefined && hints !== null && (typeof hints !== 'object' || Array.isArray(hints))) throw invalid('root_device_hints must be an object of hints, as properties.root_device');
  if (!Number.isSafeInteger(frameSize) || (frameSize as number) % MiB !== 0 || (frameSize as number) < MiB || (frameSize as number) > 64 * MiB) {
    throw invalid(`frame_size must be a multiple of 1 MiB (1048576) from 1 to 64 MiB, not ${describeInput(frameSize)}`);
  }
  if (!Number.isInteger(level) || (level as number) < 1 || (level as number) > 19) throw invalid(`level must be an integer from 1 to 19, not ${describeInput(level)}`);
  if (!Number.isInteger(retries) || (retries as number) < 0 || (retries as number) > 100) throw invalid(`segment_retries must be an integer from 0 to 100, not ${describeInput(retries)}`);
  return {
    device: typeof device === 'string' ? device : null,
    rootDeviceHints: hints && typeof hints === 'object' ? hints as Record<string, unknown> : null,
    partitions: parsePartitionNumbers(partitions),
    frameSize: frameSize as number,
    level: level as number,
    target: parseTarget(params.target),
    segmentRetries: retries as number,
  };
}

function parsePartitionNumbers(value: unknown): number[] | null {
  if (value === undefined || value === null) return null;
  // Array.from: a hole (a sparse array, from code rather than JSON) counts as undefined, not as absent.
  if (!Array.isArray(value) || value.length === 0 || !Array.from(value).every((n) => Number.isSafeInteger(n) && n > 0)) {
    throw invalid(`partitions must be a non-empty list of positive partition numbers such as [1, 2], not ${describeInput(value)}`);
  }
  return [...new Set(value as number[])].sort((a, b) => a - b);
}

function checkUrl(field: string, value: unknown): string {
  if (typeof value !== 'string') throw invalid(`${field} must be an http(s) URL string`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // The value itself is not echoed: it may carry a signature.
    throw invalid(`${field} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(`${field} must be an http or https URL, not ${url.protocol}`);
  return value;
}

function checkUrls(field: string, value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) throw invalid(`${field} must be a non-empty list of URLs`);
  if (value.length > MAX_SNAPSHOT_SEGMENTS) throw invalid(`${field} holds ${value.length} URLs, more than the ${MAX_SNAPSHOT_SEGMENTS} a target may carry; use a larger segment_size`);
  return Array.from(value, (url, i) => checkUrl(`${field}[${i}]`, url));
}

function checkSegmentSize(field: string, value: unknown, minimum: number): number {
  if (!Number.isSafeInteger(value) || (value as number) < minimum) throw invalid(`${field} must be an integer of at least ${minimum} bytes, not ${describeInput(value)}`);
  return value as number;
}

export function parseTarget(value: unknown): SnapshotTarget {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw invalid('target must be an object: {type: http_put|swift|s3, ...}');
  const target = value as Record<string, unknown>;
  switch (target.type) {
    case 'http_put':
      return {
        type: 'http_put', url: checkUrl('target.url', target.url),
        ...(target.manifest_url === undefined || target.manifest_url === null ? {} : { manifest_url: checkUrl('target.manifest_url', target.manifest_url) }),
      };
    case 'swift':
      return { type: 'swift', segment_urls: checkUrls('target.segment_urls', target.segment_urls), segment_size: checkSegmentSize('target.segment_size', target.segment_size, MIN_SWIFT_SEGMENT_SIZE) };
    case 's3':
      return { type: 's3', part_urls: checkUrls('target.part_urls', target.part_urls), segment_size: checkSegmentSize('target.segment_size', target.segment_size, MIN_S3_SEGMENT_SIZE) };
    default:
      throw invalid(`target.type must be http_put, swift or s3, not ${describeInput(target.type)}`);
  }
}
