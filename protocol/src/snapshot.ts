/**
 * Wire types of Ingot's block-level snapshots (an extension: IPA has no
 * snapshot). The agent's `snapshot.capture` command (and the `capture_snapshot`
 * service step, which takes the same arguments) reads a disk with direct I/O
 * into zstd's seekable format and uploads it to short-lived URLs the conductor
 * made; the conductor completes the object where that needs its credentials
 * (a Swift static large object's manifest, an S3 CompleteMultipartUpload) and
 * stores the manifest beside the image. `write_image` deploys it back.
 */

/** Where the compressed stream goes. Every URL is short-lived and signed; none is ever logged with its query. */
export type SnapshotTarget =
  /** One streamed PUT (chunked) of the whole image, e.g. nginx with WebDAV. A failed connection fails the capture: nothing can be resent without the disk being read again. */
  | { type: 'http_put'; url: string; manifest_url?: string }
  /**
   * Swift temporary URLs (PUT), one per segment, in order: segment `i` of
   * `segment_size` bytes (the last one shorter) goes to `segment_urls[i]` with
   * its MD5 as `ETag`, which Swift checks. The conductor then writes the static
   * large object's manifest with its own token (a temp URL cannot: Swift's
   * tempurl middleware drops `?multipart-manifest=put`).
   */
  | { type: 'swift'; segment_urls: string[]; segment_size: number }
  /**
   * S3 presigned UploadPart URLs, one per part in order (part `i + 1` at
   * `part_urls[i]`), each sent with `Content-MD5`; the conductor completes the
   * multipart upload with the ETags the result lists. Parts are at least 5 MiB but the last.
   */
  | { type: 's3'; part_urls: string[]; segment_size: number };

export type SnapshotTargetType = SnapshotTarget['type'];

/** `snapshot.capture`'s parameters. */
export interface SnapshotCaptureParams {
  /** The disk by name (`/dev/sda`); else chosen by `root_device_hints`, else the root device as a deploy chooses it. */
  device?: string;
  root_device_hints?: Record<string, unknown>;
  /**
   * Partition numbers to capture: the image then holds the partition table
   * (both GPT copies) and these partitions, every other byte reads as zero.
   * Absent: the whole disk, byte for byte.
   */
  partitions?: number[];
  /** Bytes of disk per zstd frame, a multiple of 1 MiB from 1 to 64 MiB; default 4 MiB. */
  frame_size?: number;
  /** zstd level, 1 to 19; default 3. */
  level?: number;
  target: SnapshotTarget;
  /** Failed attempts tolerated per segment (or for the one PUT's connection set-up); default 4. */
  segment_retries?: number;
}

/** One uploaded segment (or part): what the conductor needs to complete the object. */
export interface SnapshotSegment {
  /** 0-based; an S3 part number is `index + 1`. */
  index: number;
  bytes: number;
  md5: string;
  sha256: string;
  /** The ETag the store answered, quotes removed; null when it sent none. */
  etag: string | null;
  /** Attempts it took (1 when the first one succeeded). */
  attempts: number;
}

/** A partition as the snapshot's source had it. */
export interface SnapshotPartition {
  number: number;
  start_bytes: number;
  size_bytes: number;
  /** GPT partition GUID or MBR `<disk id>-<number>`. */
  uuid?: string | null;
  /** GPT type GUID or MBR type byte (`0x83`). */
  type?: string | null;
  label?: string | null;
  /** Whether its bytes are in the image (all are, for a whole-disk capture). */
  captured: boolean;
}

/** `ingot-snapshot/1`: the JSON stored beside the image. */
export interface SnapshotManifest {
  format: 'ingot-snapshot/1';
  /** ISO 8601, when the capture finished. */
  created_at: string;
  agent_version: string;
  node_uuid?: string | null;
  source: {
    device: string;
    size_bytes: number;
    logical_sector_size: number;
    physical_sector_size: number;
    serial?: string | null;
    model?: string | null;
    partition_table: { type: 'gpt' | 'dos' | null; uuid?: string | null };
    partitions: SnapshotPartition[];
    /** `disk`: every byte; `partitions`: the table and the partitions marked captured. */
    captured: 'disk' | 'partitions';
  };
  /** The disk's bytes as the image holds them (decompressed). */
  raw: { bytes: number; sha256: string };
  /** The object as stored: zstd's seekable format. */
  image: {
    format: 'zstd-seekable';
    bytes: number;
    sha256: string;
    level: number;
    frame_size: number;
    frames: number;
  };
  /** How it was uploaded: absent for one PUT. */
  segments?: { size: number; count: number };
}

export interface SnapshotCaptureResult {
  manifest: SnapshotManifest;
  target: SnapshotTargetType;
  /** Segments in order (empty for `http_put`). */
  segments: SnapshotSegment[];
  /** Whether the agent stored the manifest itself (`http_put` with `manifest_url`). */
  manifest_stored: boolean;
  duration_ms: number;
}

/**
 * What a conductor adds to `image_info` (as `ingot_snapshot`) to deploy a
 * snapshot: checked against the object's seek table before a byte is written,
 * and the raw digest against what was written before success. `image_checksum`
 * stays the sha256 of the object as stored (`manifest.image.sha256`).
 */
export interface SnapshotDeployInfo {
  raw_bytes: number;
  raw_sha256: string;
  image_bytes: number;
  frames: number;
  frame_size: number;
}

/** The largest number of segment URLs a target may carry (S3's part limit; Swift's static large objects nest beyond 1000). */
export const MAX_SNAPSHOT_SEGMENTS = 10_000;
