import { setTimeout as sleep } from 'node:timers/promises';
import { IngotError } from '@ingot/protocol';
import type { Logger } from 'pino';
import type { BlockDevice } from './block-devices.ts';
import type { System } from '../system/system.ts';
import { blockdevRereadArgv } from '../tools/blockdev.ts';
import { partxAddArgv, partxUpdateArgv } from '../tools/partx.ts';
import { sgdiskMoveBackupArgv } from '../tools/sgdisk.ts';
import { checkGptBackup } from './gpt-header.ts';
import { partitionPath } from './partition-layout.ts';

/** How long partition nodes may take to appear after the kernel learnt of them (udev-less ramdisk: devtmpfs is immediate). */
const NODE_WAIT_MS = 10_000;

/**
 * After an image or a table is written (9.5 steps 5 and 6): moves a
 * misplaced backup GPT to the end of the disk, then makes the kernel see the
 * new partitions. BLKRRPART is tried first; `partx --update` and `--add`
 * (BLKPG) follow because the kernel refuses a re-read while a partition is
 * open and some kernels do not parse a loop device's table themselves.
 * Disk files have no partition nodes: only the GPT fix applies.
 */
export async function settlePartitionTable(system: System, disk: BlockDevice, log: Logger, expectedPartitions: readonly number[] = []): Promise<void> {
  await fixGptBackup(system, disk, log);
  if (disk.type === 'file') return;
  await system.run(['sync']);
  await system.run(blockdevRereadArgv(disk.name), { allowFailure: true });
  await system.run(partxUpdateArgv(disk.name), { allowFailure: true });
  const missing = async () => {
    const absent: string[] = [];
    for (const number of expectedPartitions) {
      const node = partitionPath(disk.name, number);
      if (!(await system.exists(node))) absent.push(node);
    }
    return absent;
  };
  if ((await missing()).length > 0) await system.run(partxAddArgv(disk.name), { allowFailure: true });
  const deadline = Date.now() + NODE_WAIT_MS;
  for (;;) {
    const absent = await missing();
    if (absent.length === 0) return;
    if (Date.now() > deadline) {
      throw new IngotError('INGOT_DEPLOYMENT_FAILED', {
        details: `the partition table of ${disk.name} was written but the kernel shows no ${absent.join(', ')} after ${NODE_WAIT_MS / 1000} s; on a loop device, attach it with losetup --partscan`,
      });
    }
    await sleep(100);
  }
}

/** `sgdisk -e` when the primary GPT header names a backup that is not at the disk's last sector. */
export async function fixGptBackup(system: System, disk: BlockDevice, log: Logger): Promise<boolean> {
  const sector = disk.logicalSectorSize;
  const size = await system.deviceSize(disk.name);
  const check = checkGptBackup(await system.readRange(disk.name, sector, sector), size, sector);
  if (!check.backupMisplaced) return false;
  log.info({ device: disk.name, backupLba: String(check.backupLba), lastLba: String(check.lastLba) }, 'moving the backup GPT to the end of the disk');
  await system.run(sgdiskMoveBackupArgv(disk.name));
  return true;
}
