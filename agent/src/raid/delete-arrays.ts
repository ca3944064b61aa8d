import type { Logger } from 'pino';
import { IngotError, type CommandProgress } from '@ingot/protocol';
import type { BlockDevice, BlockDevices } from '../disks/block-devices.ts';
import { eraseDeviceMetadata } from '../disks/erase-metadata.ts';
import { assembleArrays, listArrays, type MdArray } from '../disks/md-arrays.ts';
import { isPartitionOf } from '../system/device-guard.ts';
import type { System } from '../system/system.ts';
import { mdadmExamineArgv, mdadmStopArgv, mdadmZeroSuperblockArgv, parseMdadmExamine } from '../tools/mdadm.ts';
import { wipefsEraseArgv } from '../tools/wipefs.ts';

export interface DeleteContext {
  system: System;
  devices: BlockDevices;
  log: Logger;
  progress(progress: CommandProgress): void;
  signal: AbortSignal;
}

/** IPA gives up after two passes (§8.5). */
const PASSES = 2;

/**
 * `delete_configuration` (§8.5): every array goes, whatever built it: those
 * running, and those a previous deployment left on the disks (assembled
 * first), degraded ones included. Each array's signatures are wiped, it is
 * stopped and every member's superblock zeroed; then any stray superblock on
 * a disk or partition is zeroed, and every disk that held a member is erased
 * (partition tables and signatures, as erase_devices_metadata does), so the
 * disks are as if never used. Arrays named in the skip list
 * (`skip_block_devices` entries with `volume_name`) are kept, and their disks
 * are not erased.
 */
export async function deleteArrays(ctx: DeleteContext, keep: ReadonlySet<string>): Promise<{ removed: string[]; erased: string[] }> {
  const { system, devices, log } = ctx;
  const disks = (await devices.listDisks()).filter((disk) => !isArray(disk));
  const diskOf = (path: string) => disks.find((disk) => disk.name === path || isPartitionOf(path, disk.name));
  const removed: string[] = [];
  const holders = new Set<BlockDevice>();
  const kept: MdArray[] = [];

  for (let pass = 1; ; pass += 1) {
    ctx.signal.throwIfAborted();
    await assembleArrays(system, devices.guard, log);
    const arrays = await listArrays(system, devices.guard);
    kept.splice(0, kept.length, ...arrays.filter((array) => array.name !== null && keep.has(array.name)));
    const doomed = arrays.filter((array) => !kept.includes(array));
    if (doomed.length === 0) break;
    if (pass > PASSES) {
      throw new IngotError('INGOT_RAID_FAILED', { details: `software RAID arrays remain after ${PASSES} passes of stopping them: ${doomed.map((a) => a.device).join(', ')}; something holds them open (a mounted filesystem, LVM, swap)` });
    }
    for (const [index, array] of doomed.entries()) {
      ctx.progress({ stage: 'removing arrays', done: index, total: doomed.length, unit: 'arrays', message: `${array.device}${array.name ? ` "${array.name}"` : ''}` });
      devices.guard.check(array.device, 'remove the software RAID array');
      if (array.active) await system.run(wipefsEraseArgv(array.device), { allowFailure: true });
      const stopped = await system.run(mdadmStopArgv(array.device), { allowFailure: true });
      if (stopped.exitCode !== 0) {
        log.warn({ device: array.device, stderr: stopped.stderr.trim() }, 'mdadm --stop failed; trying again in the next pass');
        continue;
      }
      for (const member of array.members) {
        await zeroSuperblock(ctx, member);
        const disk = diskOf(member);
        if (disk) holders.add(disk);
      }
      removed.push(array.device);
      log.info({ device: array.device, name: array.name, members: array.members }, 'removed a software RAID array');
    }
  }

  // Superblocks no running array claimed: a member that never assembled (its partner gone), or an old layout's.
  const keptDisks = new Set(kept.flatMap((array) => array.members.map(diskOf)).filter((disk) => disk !== undefined));
  for (const disk of disks) {
    if (keptDisks.has(disk) || disk.readOnly) continue;
    const paths = [...(await devices.listPartitions(disk)).flatMap((p) => (p.node ? [p.node] : [])), disk.name];
    for (const path of paths) {
      if (await hasSuperblock(system, log, path)) {
        await zeroSuperblock(ctx, path);
        holders.add(disk);
      }
    }
  }

  const erased: string[] = [];
  for (const [index, disk] of [...holders].entries()) {
    if (keptDisks.has(disk)) {
      log.info({ device: disk.name }, 'not erasing a disk that holds an array on the skip list');
      continue;
    }
    ctx.progress({ stage: 'erasing former RAID members', done: index, total: holders.size, unit: 'disks', message: disk.name });
    await eraseDeviceMetadata({ system, devices, log }, disk);
    erased.push(disk.name);
  }
  await system.run(['sync']);
  return { removed, erased };
}

function isArray(disk: BlockDevice): boolean {
  return disk.type === 'md' || disk.type.startsWith('raid');
}

async function hasSuperblock(system: System, log: Logger, path: string): Promise<boolean> {
  const result = await system.run(mdadmExamineArgv(path), { allowFailure: true });
  try {
    return parseMdadmExamine(result.exitCode, result.stdout, result.stderr) !== null;
  } catch (error) {
    // Unreadable, say: nothing mdadm could assemble from it either.
    log.warn({ device: path, err: error }, 'mdadm --examine failed; not zeroing a superblock there');
    return false;
  }
}

async function zeroSuperblock({ system, devices, log }: DeleteContext, path: string): Promise<void> {
  devices.guard.check(path, 'zero the RAID superblock of');
  const result = await system.run(mdadmZeroSuperblockArgv(path), { allowFailure: true });
  if (result.exitCode !== 0) log.warn({ device: path, stderr: result.stderr.trim() }, 'mdadm --zero-superblock failed');
}
