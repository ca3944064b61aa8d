import { describeInput, IngotError, type SnapshotDeployInfo } from '@ingot/protocol';

/**
 * `image_info.ingot_snapshot` (SnapshotDeployInfo, an Ingot extension): what
 * the snapshot's manifest says of the object, so the deploy can check the
 * object's seek table before writing and the raw digest after
 * (deploy/snapshot-check.ts). Refused with a 400 naming the field.
 */
function invalid(field: string, problem: string): never {
  throw new IngotError('INGOT_INVALID_PARAMS', { details: `image_info.ingot_snapshot${field ? `.${field}` : ''} ${problem}` });
}

function count(raw: Record<string, unknown>, field: keyof SnapshotDeployInfo, min: number): number {
  const value = raw[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) invalid(field, `must be an integer of at least ${min}, got ${describeInput(value)}`);
  return value;
}

export function parseSnapshotInfo(raw: unknown): SnapshotDeployInfo | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'object' || Array.isArray(raw)) invalid('', `must be an object {raw_bytes, raw_sha256, image_bytes, frames, frame_size}, got ${describeInput(raw)}`);
  const info = raw as Record<string, unknown>;
  const sha = info.raw_sha256;
  if (typeof sha !== 'string' || !/^[0-9a-f]{64}$/i.test(sha)) invalid('raw_sha256', `must be a sha256 in hex (64 digits), got ${describeInput(sha)}`);
  return {
    raw_bytes: count(info, 'raw_bytes', 1),
    raw_sha256: sha.toLowerCase(),
    // A frame takes at least 8 bytes and the seek table 17.
    image_bytes: count(info, 'image_bytes', 17),
    frames: count(info, 'frames', 1),
    frame_size: count(info, 'frame_size', 1),
  };
}
