import { describe, expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import { planSegments, S3_MAX_PARTS, S3_MIN_PART_BYTES, SWIFT_MAX_SEGMENTS, worstCaseImageBytes, zstdCompressBound } from './segment-plan.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

describe('planSegments', () => {
  it('keeps 64 MiB segments for a disk that fits, with room for data that does not compress', () => {
    const plan = planSegments(8 * GiB, { maxSegments: SWIFT_MAX_SEGMENTS });
    expect(plan.segmentSize).toBe(64 * MiB);
    // 8 GiB at 64 MiB is 128 segments; the compress bound (about 1/256 more) and the seek table need one more.
    expect(plan.count).toBe(129);
    expect(plan.count * plan.segmentSize).toBeGreaterThanOrEqual(worstCaseImageBytes(8 * GiB));
  });

  it('raises the segment size to whole MiB so a 2 TiB disk needs at most 1000 Swift segments', () => {
    const plan = planSegments(2 * TiB, { maxSegments: SWIFT_MAX_SEGMENTS });
    expect(plan.count).toBeLessThanOrEqual(SWIFT_MAX_SEGMENTS);
    expect(plan.segmentSize % MiB).toBe(0);
    expect(plan.segmentSize).toBeGreaterThan(2 * TiB / 1000);
    expect(plan.count * plan.segmentSize).toBeGreaterThanOrEqual(worstCaseImageBytes(2 * TiB));
  });

  it('stays within S3\'s 10000 parts for a 16 TiB disk', () => {
    const plan = planSegments(16 * TiB, { maxSegments: S3_MAX_PARTS, minSegmentSize: S3_MIN_PART_BYTES });
    expect(plan.count).toBeLessThanOrEqual(S3_MAX_PARTS);
    expect(plan.count * plan.segmentSize).toBeGreaterThanOrEqual(worstCaseImageBytes(16 * TiB));
  });

  it('refuses a segment size under the store\'s minimum and a disk of no bytes', () => {
    const small = (() => { try { planSegments(GiB, { requested: MiB, maxSegments: S3_MAX_PARTS, minSegmentSize: S3_MIN_PART_BYTES }); } catch (e) { return e; } })();
    expect(isIngotError(small, 'INGOT_CONFIG_INVALID')).toBe(true);
    expect(String(small)).toContain('at least 5 MiB');
    expect(() => planSegments(0, { maxSegments: 1000 })).toThrow(/positive number of bytes/);
  });
});

describe('zstdCompressBound', () => {
  it('matches zstd.h\'s ZSTD_COMPRESSBOUND', () => {
    // ZSTD_COMPRESSBOUND(s) = s + (s >> 8) + (s < 128 KiB ? (128 KiB - s) >> 11 : 0)
    expect(zstdCompressBound(0)).toBe(64);
    expect(zstdCompressBound(4 * MiB)).toBe(4 * MiB + 16384);
    expect(zstdCompressBound(1000)).toBe(1000 + 3 + 63);
  });
});
