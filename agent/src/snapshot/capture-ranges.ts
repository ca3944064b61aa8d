/** A span of the disk: read from it, or emitted as zeros without a read. */
export interface DiskSpan {
  start: number;
  end: number;
  read: boolean;
}

const MiB = 1024 * 1024;
/** The protective MBR, the primary GPT header and its entries, and the gap before the first partition (1 MiB alignment: grub's core image lives there on BIOS disks). */
export const TABLE_HEAD_BYTES = MiB;
/** The backup GPT: its 32 sectors of entries (128 entries of 128 bytes at 512-byte sectors) and its header in the last sector. */
export const GPT_BACKUP_SECTORS = 33;

/**
 * What a partitions capture reads: the first MiB, for GPT the last 33
 * sectors (the backup table), and the chosen partitions; the rest of the
 * disk becomes zero spans. Spans cover [0, size) in order, without gaps.
 */
export function partitionCaptureSpans(options: {
  size: number;
  sectorSize: number;
  table: 'gpt' | 'dos' | null;
  partitions: readonly { startBytes: number; sizeBytes: number }[];
}): DiskSpan[] {
  const { size } = options;
  const wanted: Array<[number, number]> = [[0, Math.min(TABLE_HEAD_BYTES, size)]];
  if (options.table === 'gpt') wanted.push([Math.max(0, size - GPT_BACKUP_SECTORS * options.sectorSize), size]);
  for (const p of options.partitions) wanted.push([Math.min(p.startBytes, size), Math.min(p.startBytes + p.sizeBytes, size)]);
  wanted.sort((a, b) => a[0] - b[0]);
  const spans: DiskSpan[] = [];
  let at = 0;
  for (const [start, end] of wanted) {
    if (end <= at) continue;
    if (start > at) spans.push({ start: at, end: start, read: false });
    const last = spans.at(-1);
    const from = Math.max(start, at);
    if (last?.read && last.end === from) last.end = end;
    else spans.push({ start: from, end, read: true });
    at = end;
  }
  if (at < size) spans.push({ start: at, end: size, read: false });
  return spans;
}
