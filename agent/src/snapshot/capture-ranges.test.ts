import { describe, expect, it } from 'vitest';
import { partitionCaptureSpans } from './capture-ranges.ts';

const MiB = 1024 * 1024;

describe('partitionCaptureSpans', () => {
  it('reads the first MiB, the chosen partition and the GPT backup, and zeros the rest', () => {
    const size = 64 * MiB;
    expect(partitionCaptureSpans({ size, sectorSize: 512, table: 'gpt', partitions: [{ startBytes: 10 * MiB, sizeBytes: 8 * MiB }] })).toEqual([
      { start: 0, end: MiB, read: true },
      { start: MiB, end: 10 * MiB, read: false },
      { start: 10 * MiB, end: 18 * MiB, read: true },
      { start: 18 * MiB, end: size - 33 * 512, read: false },
      { start: size - 33 * 512, end: size, read: true },
    ]);
  });

  it('merges a partition that starts right after the first MiB and reads no backup for MBR', () => {
    expect(partitionCaptureSpans({ size: 8 * MiB, sectorSize: 512, table: 'dos', partitions: [{ startBytes: MiB, sizeBytes: 2 * MiB }, { startBytes: 2 * MiB, sizeBytes: MiB }] })).toEqual([
      { start: 0, end: 3 * MiB, read: true },
      { start: 3 * MiB, end: 8 * MiB, read: false },
    ]);
  });

  it('covers a disk smaller than a MiB with one read', () => {
    expect(partitionCaptureSpans({ size: 4096, sectorSize: 512, table: 'gpt', partitions: [] })).toEqual([{ start: 0, end: 4096, read: true }]);
  });
});
