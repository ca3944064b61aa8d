/**
 * Where a snapshot goes: the conductor's side of an object store. It signs the
 * short-lived URLs the agent uploads to (the agent never sees a long-lived
 * credential), then completes the object with its own credentials once the
 * agent reports the segments, or removes what was uploaded when the capture
 * failed.
 */
import { IngotError, type SnapshotCaptureResult, type SnapshotManifest, type SnapshotSegment, type SnapshotTarget, type SnapshotTargetType } from '@ingot/protocol';

export interface SnapshotStore {
  readonly type: SnapshotTargetType;
  /** Where the image goes, for people: no signature, no secret. */
  readonly location: string;
  /**
   * Signs the upload URLs for a disk of `rawBytes` (enough for the worst
   * case: nothing compresses) and starts what the store needs (an S3
   * multipart upload). `frameSize` is the capture's, when it is not the agent's default.
   */
  prepare(rawBytes: number, options?: { frameSize?: number }): Promise<SnapshotTarget>;
  /** Completes the object from the agent's result and stores the manifest beside it; returns the manifest. */
  complete(result: SnapshotCaptureResult): Promise<SnapshotManifest>;
  /** Removes whatever the agent uploaded; nothing is left looking complete. Never throws for what is already gone. */
  abandon(): Promise<void>;
  /** A URL the agent can GET (and Range) the image from, valid `ttlSeconds` (the store's default TTL when absent). */
  readUrl(ttlSeconds?: number): Promise<string>;
  /** The manifest stored beside the image. */
  readManifest(): Promise<SnapshotManifest>;
}

/** Seconds a signed URL stays valid unless told otherwise: an hour. */
export const DEFAULT_URL_TTL_SECONDS = 3600;

const mismatch = (details: string) => new IngotError('INGOT_SNAPSHOT_UPLOAD', { details: `the agent's result cannot complete the object: ${details}; nothing was completed` });

/**
 * The segments of a result, checked before anything is completed: the type
 * the store prepared, indices 0..n-1 in order within the URLs signed, sizes
 * adding up to the image's bytes, an MD5 each.
 */
export function checkedSegments(result: SnapshotCaptureResult, type: SnapshotTargetType, signed: number): SnapshotSegment[] {
  if (result.target !== type) throw mismatch(`it was uploaded to a ${result.target} target, this store is ${type}`);
  const segments = result.segments;
  if (segments.length === 0) throw mismatch('it lists no segment');
  if (segments.length > signed) throw mismatch(`it lists ${segments.length} segments, only ${signed} URLs were signed`);
  let bytes = 0;
  for (const [position, segment] of segments.entries()) {
    if (segment.index !== position) throw mismatch(`segment ${position} is listed as index ${segment.index}`);
    if (!/^[0-9a-f]{32}$/i.test(segment.md5)) throw mismatch(`segment ${position} has no MD5 (got "${segment.md5}")`);
    bytes += segment.bytes;
  }
  if (bytes !== result.manifest.image.bytes) throw mismatch(`its segments hold ${bytes} bytes, the manifest says the image has ${result.manifest.image.bytes}`);
  return segments;
}

/** The manifest's name beside the object: `<name>.manifest.json`. */
export const manifestName = (object: string) => `${object}.manifest.json`;

/** Parses a manifest as stored; a wrong format is refused naming where it came from. */
export function parseSnapshotManifest(text: string, from: string): SnapshotManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new IngotError('INGOT_SNAPSHOT_MISMATCH', { details: `${from} is not JSON; expected an ingot-snapshot/1 manifest` });
  }
  const manifest = parsed as Partial<SnapshotManifest> | null;
  const image = manifest?.image;
  const raw = manifest?.raw;
  if (!manifest || manifest.format !== 'ingot-snapshot/1' || !image || !raw
    || typeof image.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(image.sha256) || !Number.isSafeInteger(image.bytes)
    || typeof raw.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(raw.sha256) || !Number.isSafeInteger(raw.bytes)
    || !Number.isSafeInteger(image.frames) || !Number.isSafeInteger(image.frame_size)) {
    throw new IngotError('INGOT_SNAPSHOT_MISMATCH', { details: `${from} is not an ingot-snapshot/1 manifest (format, raw and image with bytes and sha256, frames, frame_size)` });
  }
  return manifest as SnapshotManifest;
}
