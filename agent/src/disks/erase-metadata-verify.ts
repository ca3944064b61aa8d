import { IngotError } from '@ingot/protocol';
import type { BlockDevice } from './block-devices.ts';
import type { System } from '../system/system.ts';
import { isNoPartitionTable, parsePartx, partxArgv } from '../tools/partx.ts';
import { describeSignatures, parseWipefsList, wipefsListArgv } from '../tools/wipefs.ts';
import type { ByteRange } from './erase-metadata-ranges.ts';

/** Read-back is done in slices, so verifying a disk with many partitions never holds much memory. */
const READ_SLICE = 1024 * 1024;

/**
 * Proves an erase instead of trusting the tools' exit codes: libblkid (through
 * wipefs and partx) must find no signature and no partition table on the
 * disk, and every range that was zeroed must read back as zeros, which also
 * catches md rewriting a superblock behind our back, or a device that ignored
 * the writes. Throws INGOT_ERASE_FAILED naming the device and what remained.
 */
export async function verifyMetadataErased(system: System, disk: BlockDevice, zeroed: readonly ByteRange[]): Promise<void> {
  const remaining: string[] = [];

  const signatures = parseWipefsList((await system.run(wipefsListArgv(disk.name))).stdout);
  if (signatures.length > 0) remaining.push(`signatures ${describeSignatures(signatures)}`);

  const table = await system.run(partxArgv(disk.name), { allowFailure: true });
  // Exit 0 means libblkid found a table, even an empty one (partx then prints nothing).
  if (table.exitCode === 0) {
    const partitions = parsePartx(table.stdout);
    const scheme = partitions[0]?.scheme ?? 'unknown';
    remaining.push(`a partition table (${scheme}) with ${partitions.length} partitions`);
  } else if (!isNoPartitionTable(table.exitCode, table.stderr)) {
    remaining.push(`an unreadable partition area (partx exited with ${table.exitCode}: ${table.stderr.trim()})`);
  }

  for (const range of zeroed) {
    const offset = await firstNonZero(system, disk.name, range);
    if (offset !== null) remaining.push(`non-zero data at byte ${offset} of a range zeroed at ${range.offset}+${range.length}`);
  }

  if (remaining.length > 0) {
    throw new IngotError('INGOT_ERASE_FAILED', { details: `${disk.name}: metadata remains after the erase: ${remaining.join('; ')}` });
  }
}

async function firstNonZero(system: System, path: string, range: ByteRange): Promise<number | null> {
  for (let done = 0; done < range.length; done += READ_SLICE) {
    const length = Math.min(READ_SLICE, range.length - done);
    const data = await system.readRange(path, range.offset + done, length);
    if (data.length < length) return range.offset + done + data.length;
    const at = data.findIndex((byte) => byte !== 0);
    if (at >= 0) return range.offset + done + at;
  }
  return null;
}
