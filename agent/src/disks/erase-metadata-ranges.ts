import type { Partition } from './block-devices.ts';

/** A byte range of a disk that the metadata erase overwrites with zeros. */
export interface ByteRange {
  offset: number;
  length: number;
}

const MiB = 1024 * 1024;

/**
 * 128 entries of 128 bytes: the partition array every GPT tool writes, and the
 * minimum the UEFI specification allows (16 KiB).
 */
const GPT_ENTRY_ARRAY_BYTES = 128 * 128;

/**
 * At least this much is zeroed at each end of the disk and of each partition.
 * IPA zeroes only 33 sectors (512) or 5 (4096) at each end (7.3), which misses
 * other sector sizes and GPTs with larger entry arrays. A MiB also covers
 * where most other metadata lives: the LVM label (sector 1), md 1.1/1.2
 * superblocks (0 and 4 KiB), md 0.90/1.0 and ZFS labels near the end, btrfs
 * (64 KiB), ISO 9660 (32 KiB) and UDF anchors (up to 256 sectors).
 */
export const METADATA_ZONE = MiB;

/** Bytes of GPT at the start of a disk: protective MBR, header, entry array, all whole sectors. */
export function primaryGptBytes(sectorSize: number): number {
  return sectorSize + sectorSize + alignUp(GPT_ENTRY_ARRAY_BYTES, sectorSize);
}

/** Bytes of GPT at the end of a disk: entry array, then the backup header in the last sector. */
export function backupGptBytes(sectorSize: number): number {
  return alignUp(GPT_ENTRY_ARRAY_BYTES, sectorSize) + sectorSize;
}

/**
 * The head and tail of the whole disk: the MBR and primary GPT at the start,
 * the backup GPT at the end, each rounded out to whole sectors so that a
 * 4Kn disk never sees a partial-sector write.
 */
export function diskMetadataRanges(diskSize: number, sectorSize: number): ByteRange[] {
  assertSectorSize(sectorSize);
  const head = Math.min(diskSize, alignUp(Math.max(METADATA_ZONE, primaryGptBytes(sectorSize)), sectorSize));
  const tailLength = alignUp(Math.max(METADATA_ZONE, backupGptBytes(sectorSize)), sectorSize);
  const tailOffset = alignDown(Math.max(0, diskSize - tailLength), sectorSize);
  return normalize([{ offset: 0, length: head }, { offset: tailOffset, length: diskSize - tailOffset }]);
}

/** The first and last METADATA_ZONE of a partition, as offsets on its disk, clipped to the disk. */
export function partitionMetadataRanges(partition: Pick<Partition, 'start' | 'size'>, diskSize: number, sectorSize: number): ByteRange[] {
  assertSectorSize(sectorSize);
  const start = alignDown(Math.min(partition.start, diskSize), sectorSize);
  const end = Math.min(diskSize, alignUp(partition.start + partition.size, sectorSize));
  if (end <= start) return [];
  const headEnd = Math.min(end, start + METADATA_ZONE);
  const tailStart = Math.max(start, alignDown(end - METADATA_ZONE, sectorSize));
  return normalize([{ offset: start, length: headEnd - start }, { offset: tailStart, length: end - tailStart }]);
}

/** Sorts ranges and merges overlapping or touching ones, so nothing is written twice. */
export function normalize(ranges: readonly ByteRange[]): ByteRange[] {
  const sorted = ranges.filter((r) => r.length > 0).sort((a, b) => a.offset - b.offset);
  const merged: ByteRange[] = [];
  for (const range of sorted) {
    const last = merged.at(-1);
    if (last && range.offset <= last.offset + last.length) {
      last.length = Math.max(last.length, range.offset + range.length - last.offset);
    } else {
      merged.push({ ...range });
    }
  }
  return merged;
}

export function alignUp(value: number, unit: number): number {
  return Math.ceil(value / unit) * unit;
}

export function alignDown(value: number, unit: number): number {
  return Math.floor(value / unit) * unit;
}

function assertSectorSize(sectorSize: number): void {
  if (!Number.isSafeInteger(sectorSize) || sectorSize < 512 || (sectorSize & (sectorSize - 1)) !== 0) {
    throw new RangeError(`unexpected logical sector size ${sectorSize}: expected a power of two of at least 512`);
  }
}
