import { describe, expect, it } from 'vitest';
import { parseImageInfo } from './image-info.ts';
import { parseSnapshotInfo } from './snapshot-info.ts';

const good = { raw_bytes: 27262976, raw_sha256: 'AB'.repeat(32), image_bytes: 4_000_000, frames: 7, frame_size: 4194304 };

describe('image_info.ingot_snapshot', () => {
  it('is taken as given, the digest lowercased, and absent means no snapshot', () => {
    expect(parseSnapshotInfo(good)).toEqual({ ...good, raw_sha256: 'ab'.repeat(32) });
    expect(parseSnapshotInfo(undefined)).toBeNull();
    expect(parseSnapshotInfo(null)).toBeNull();
  });

  it.each([
    ['raw_bytes', 0, 'image_info.ingot_snapshot.raw_bytes must be an integer of at least 1, got 0'],
    ['frames', 1.5, 'image_info.ingot_snapshot.frames must be an integer of at least 1'],
    ['image_bytes', '4000000', 'image_info.ingot_snapshot.image_bytes must be an integer of at least 17'],
    ['frame_size', undefined, 'image_info.ingot_snapshot.frame_size must be an integer of at least 1'],
    ['raw_sha256', 'abc', 'image_info.ingot_snapshot.raw_sha256 must be a sha256 in hex (64 digits)'],
  ])('refuses a bad %s with a 400 naming the field', (field, value, message) => {
    expect(() => parseSnapshotInfo({ ...good, [field]: value })).toThrow(expect.objectContaining({ code: 'INGOT_INVALID_PARAMS', status: 400, message: expect.stringContaining(message) }));
  });

  it('refuses a value that is not an object, and a snapshot sent as a partition image', () => {
    expect(() => parseSnapshotInfo([1])).toThrow(/image_info.ingot_snapshot must be an object/);
    const info = { id: 'x', urls: ['http://h/x'], os_hash_algo: 'sha256', os_hash_value: 'ab'.repeat(32), image_type: 'partition', root_mb: 10, ingot_snapshot: good };
    expect(() => parseImageInfo(info, { md5Allowed: false })).toThrow(/image_info.ingot_snapshot is for whole-disk images/);
    expect(parseImageInfo({ ...info, image_type: 'whole-disk' }, { md5Allowed: false }).snapshot).toMatchObject({ frames: 7 });
  });
});
