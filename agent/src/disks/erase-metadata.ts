import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { IngotError, isIngotError, type CommandProgress } from '@ingot/protocol';
import type { BlockDevice, BlockDevices, Partition } from './block-devices.ts';
import { isPartitionOf } from '../system/device-guard.ts';
import type { System } from '../system/system.ts';
import { blockdevRereadArgv, parseBlockdevReread } from '../tools/blockdev.ts';
import { fuserArgv, isHeld, parseFuserPids } from '../tools/fuser.ts';
import { partxDeleteArgv } from '../tools/partx.ts';
import { parseSgdiskZap, sgdiskZapArgv } from '../tools/sgdisk.ts';
import { parseWipefsErased, wipefsEraseArgv } from '../tools/wipefs.ts';
import { diskMetadataRanges, normalize, partitionMetadataRanges, type ByteRange } from './erase-metadata-ranges.ts';
import { verifyMetadataErased } from './erase-metadata-verify.ts';

export interface EraseContext {
  system: System;
  devices: BlockDevices;
  log: Logger;
  progress?: (progress: CommandProgress) => void;
}

export interface EraseDevicesOptions {
  /** IPA's `agent_erase_skip_read_only`: skip read-only disks instead of failing on them. */
  skipReadOnly?: boolean;
  signal?: AbortSignal;
  /** Where progress goes when the context carries none (a step passes its own). */
  progress?: (progress: CommandProgress) => void;
}

/** IPA's [disk_partitioner] check_device_max_retries and check_device_interval (7.3). */
const IDLE_CHECKS = 20;
const IDLE_INTERVAL_MS = 1000;
/** A partition whose opener is just closing it (udev probing, a finished mkfs) keeps the re-read busy for a moment. */
const REREAD_ATTEMPTS = 5;
/** The label of the virtual media device Ironic attaches; it carries the agent's config and is never erased (7.2). */
const VIRTUAL_MEDIA_LINK = '/dev/disk/by-label/ir-vfd-dev';

/**
 * Destroys the partition table and every filesystem, RAID and volume
 * signature on one disk, then proves it: nothing the next boot could mount or
 * assemble survives. Works on block devices of any logical sector size and on
 * disk files (no partition nodes: partitions are reached by offset).
 */
export async function eraseDeviceMetadata(ctx: EraseContext, disk: BlockDevice): Promise<void> {
  const { system, devices, log } = ctx;
  devices.guard.check(disk.name, 'erase');
  if (disk.readOnly) throw eraseError(disk, 'the device is read-only');
  const partitions = await devices.listPartitions(disk);
  for (const partition of partitions) if (partition.node) devices.guard.check(partition.node, 'erase');
  const raid = await raidHolders(system, disk, partitions);
  if (raid.length > 0) throw eraseError(disk, `it is a member of the running RAID array ${raid.join(', ')}; stop the array first (delete_configuration)`);

  try {
    const size = await system.deviceSize(disk.name);
    const sectorSize = disk.logicalSectorSize;
    const zeroed: ByteRange[] = [];
    const zero = async (ranges: ByteRange[]) => {
      for (const range of ranges) {
        await system.zeroRange(disk.name, range.offset, range.length);
        zeroed.push(range);
      }
    };

    // Last partition first, as IPA erases partitions before their disk (7.3).
    for (const partition of [...partitions].reverse()) {
      if (partition.node && (await system.exists(partition.node))) await wipeSignatures(ctx, partition.node);
      await zero(partitionMetadataRanges(partition, size, sectorSize));
    }
    await wipeSignatures(ctx, disk.name);
    await zero(diskMetadataRanges(size, sectorSize));
    await zapGpt(ctx, disk);
    if (disk.type !== 'file') {
      await rereadPartitionTable(ctx, disk);
      await waitUntilIdle(ctx, disk, partitions);
    }
    await verifyMetadataErased(system, disk, normalize(zeroed));
    log.info({ device: disk.name, partitions: partitions.length }, 'erased device metadata');
  } catch (error) {
    if (isIngotError(error)) throw error;
    throw eraseError(disk, error instanceof Error ? error.message : String(error), error);
  }
}

/**
 * IPA's erase_devices_metadata (7.3) over every disk the agent may touch, one
 * at a time. A failure on one disk does not stop the others; all failures are
 * raised together at the end, each naming its device.
 */
export async function eraseDevicesMetadata(ctx: EraseContext, options: EraseDevicesOptions = {}): Promise<Record<string, null>> {
  const { system, devices, log } = ctx;
  const disks = await devices.listDisks();
  const virtualMedia = await findVirtualMedia(system);
  const progress = options.progress ?? ctx.progress;
  const erased: Record<string, null> = {};
  const failures: { device: string; error: unknown }[] = [];

  for (const [index, disk] of disks.entries()) {
    options.signal?.throwIfAborted();
    progress?.({ stage: 'erasing metadata', done: index, total: disks.length, unit: 'devices', message: disk.name });
    if (virtualMedia && (virtualMedia === disk.name || isPartitionOf(virtualMedia, disk.name))) {
      log.info({ device: disk.name }, 'skipping the virtual media device');
      continue;
    }
    if (disk.readOnly && options.skipReadOnly) {
      log.warn({ device: disk.name }, 'skipping read-only device');
      continue;
    }
    // IPA skips RAID members here (7.3): the array is a device of its own, and
    // md would write its superblock back over a running member.
    if (!disk.readOnly && (await raidHolders(system, disk, await devices.listPartitions(disk))).length > 0) {
      log.warn({ device: disk.name }, 'skipping a member of a running RAID array');
      continue;
    }
    try {
      await eraseDeviceMetadata(ctx, disk);
      erased[disk.name] = null;
    } catch (error) {
      log.error({ err: error, device: disk.name }, 'erasing device metadata failed');
      failures.push({ device: disk.name, error });
    }
  }
  progress?.({ stage: 'erasing metadata', done: disks.length, total: disks.length, unit: 'devices' });

  if (failures.length > 0) {
    const details = failures.map(({ device, error }) => `${device}: ${isIngotError(error) ? error.details || error.message : String(error)}`);
    throw new IngotError('INGOT_ERASE_FAILED', {
      details: `metadata erase failed on ${failures.length} of ${disks.length} devices: ${details.join('; ')}`,
      cause: new AggregateError(failures.map((f) => f.error)),
    });
  }
  return erased;
}

async function wipeSignatures({ system, log }: EraseContext, path: string): Promise<void> {
  const { stdout } = await system.run(wipefsEraseArgv(path));
  const signatures = parseWipefsErased(stdout);
  if (signatures.length > 0) log.debug({ device: path, signatures }, 'wipefs erased signatures');
}

async function zapGpt({ system, log }: EraseContext, disk: BlockDevice): Promise<void> {
  const result = await system.run(sgdiskZapArgv(disk.name), { allowFailure: true });
  const outcome = parseSgdiskZap(result.exitCode, result.stdout + result.stderr);
  if (!outcome.acceptable) throw new Error(`sgdisk --zap-all exited with ${result.exitCode}: ${result.stderr.trim() || result.stdout.trim()}`);
  // Exit 2 after zeroing is sgdisk finding no table to load; the verification decides.
  if (result.exitCode !== 0) log.warn({ device: disk.name, exitCode: result.exitCode }, 'sgdisk --zap-all complained on a blank disk');
}

/** Makes the kernel drop the partitions it knew, so no stale /dev node outlives the erase. */
async function rereadPartitionTable({ system, log }: EraseContext, disk: BlockDevice): Promise<void> {
  for (let attempt = 1; attempt <= REREAD_ATTEMPTS; attempt += 1) {
    const result = await system.run(blockdevRereadArgv(disk.name), { allowFailure: true });
    const outcome = parseBlockdevReread(result.exitCode, result.stderr);
    if (outcome === 'done') return;
    if (outcome === 'unsupported') {
      // No partition scanning (a loop device without -P): partitions added by hand can only be deleted by hand.
      await system.run(partxDeleteArgv(disk.name), { allowFailure: true });
      return;
    }
    if (outcome === 'failed') throw new Error(`blockdev --rereadpt exited with ${result.exitCode}: ${result.stderr.trim()}`);
    if (attempt < REREAD_ATTEMPTS) await sleep(IDLE_INTERVAL_MS);
  }
  // The metadata is gone from the disk; only the kernel's view is stale until the holder lets go.
  log.warn({ device: disk.name }, 'the kernel still uses the old partition table: a partition is busy');
}

async function waitUntilIdle({ system, log }: EraseContext, disk: BlockDevice, partitions: readonly Partition[]): Promise<void> {
  if (!(await system.hasTool('fuser'))) {
    log.warn({ device: disk.name }, 'fuser is not installed; not waiting for the device to become idle');
    return;
  }
  const paths = [disk.name];
  for (const partition of partitions) if (partition.node && (await system.exists(partition.node))) paths.push(partition.node);
  let pids: number[] = [];
  for (let check = 1; check <= IDLE_CHECKS; check += 1) {
    const result = await system.run(fuserArgv(paths), { allowFailure: true });
    if (!isHeld(result.exitCode)) return;
    pids = parseFuserPids(result.stdout);
    if (check < IDLE_CHECKS) await sleep(IDLE_INTERVAL_MS);
  }
  throw new Error(`still held open by process ${pids.join(', ') || '(unknown)'} after ${IDLE_CHECKS} checks ${IDLE_INTERVAL_MS} ms apart`);
}

/** md arrays built on the disk or one of its partitions, from sysfs `holders`. */
async function raidHolders(system: System, disk: BlockDevice, partitions: readonly Partition[]): Promise<string[]> {
  if (disk.type === 'file') return [];
  const names = [disk.name, ...partitions.flatMap((p) => (p.node ? [p.node] : []))];
  const holders: string[] = [];
  for (const name of names) {
    const dir = `/sys/class/block/${name.slice(name.lastIndexOf('/') + 1)}/holders`;
    if (await system.exists(dir)) holders.push(...(await system.listDir(dir)).filter((h) => h.startsWith('md')).map((h) => `/dev/${h}`));
  }
  return [...new Set(holders)];
}

async function findVirtualMedia(system: System): Promise<string | null> {
  if (!(await system.exists(VIRTUAL_MEDIA_LINK))) return null;
  const result = await system.run(['readlink', '--canonicalize-existing', VIRTUAL_MEDIA_LINK], { allowFailure: true });
  return result.exitCode === 0 ? result.stdout.trim() || null : null;
}

function eraseError(disk: BlockDevice, reason: string, cause?: unknown): IngotError {
  return new IngotError('INGOT_ERASE_FAILED', { details: `${disk.name}: ${reason}`, cause });
}
