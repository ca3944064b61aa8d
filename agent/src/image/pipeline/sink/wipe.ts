import type { System } from '../../../system/system.ts';
import { blockdevRereadArgv } from '../../../tools/blockdev.ts';

const MiB = 1024 * 1024;

/**
 * Makes a partly written image unbootable: zeros the first and the last MiB,
 * which hold the MBR, both GPT headers and tables, and the boot sectors and
 * superblocks firmware and bootloaders look for, then has the kernel forget
 * the partitions. Called on every failure once a byte may have been written
 * (issue 4: "the partial image can never boot"). The System's zeroRange
 * writes with O_DSYNC, so a wipe that returned survives a power cut, and
 * refuses a disk this agent was not given.
 */
export async function wipeImageRemnants(path: string, size: number, system: System): Promise<void> {
  const head = Math.min(MiB, size);
  const tailStart = Math.max(head, size - MiB);
  const ranges: Array<[number, number]> = [[0, head]];
  if (size > tailStart) ranges.push([tailStart, size - tailStart]);
  for (const [offset, length] of ranges) await system.zeroRange(path, offset, length);
  // EINVAL (a loop device without partition scanning) or EBUSY are not failures of the wipe itself.
  if ((await system.stat(path)).isBlockDevice) await system.run(blockdevRereadArgv(path), { allowFailure: true });
}
