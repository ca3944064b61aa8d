import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { DeviceGuard } from '../../../system/device-guard.ts';
import type { System } from '../../../system/system.ts';
import { blockdevRereadArgv } from '../../../tools/blockdev.ts';

const MiB = 1024 * 1024;

/**
 * Makes a partly written image unbootable: zeros the first and the last MiB,
 * which hold the MBR, both GPT headers and tables, and the boot sectors and
 * superblocks firmware and bootloaders look for, then has the kernel forget
 * the partitions. Called on every failure once a byte may have been written
 * (issue 4: "the partial image can never boot").
 */
export async function wipeImageRemnants(path: string, size: number, deps: { system?: System; guard?: DeviceGuard } = {}): Promise<void> {
  deps.guard?.check(path, 'wipe');
  const head = Math.min(MiB, size);
  const tailStart = Math.max(head, size - MiB);
  const ranges: Array<[number, number]> = [[0, head]];
  if (size > tailStart) ranges.push([tailStart, size - tailStart]);
  for (const [offset, length] of ranges) {
    if (deps.system) await deps.system.zeroRange(path, offset, length);
    else await zeroDirectly(path, offset, length);
  }
  const isBlockDevice = (await stat(path)).isBlockDevice();
  // EINVAL (a loop device without partition scanning) or EBUSY are not failures of the wipe itself.
  if (isBlockDevice && deps.system) await deps.system.run(blockdevRereadArgv(path), { allowFailure: true });
}

/** Without a System: O_DSYNC writes of zeros, so a wipe that returned survives a power cut. */
async function zeroDirectly(path: string, offset: number, length: number): Promise<void> {
  const handle = await open(path, constants.O_WRONLY | constants.O_DSYNC);
  try {
    const zeros = Buffer.alloc(length);
    let done = 0;
    while (done < length) done += (await handle.write(zeros, done, length - done, offset + done)).bytesWritten;
  } finally {
    await handle.close();
  }
}
