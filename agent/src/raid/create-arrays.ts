import type { Logger } from 'pino';
import { IngotError, isIngotError, type CommandProgress } from '@ingot/protocol';
import type { BlockDevice, BlockDevices } from '../disks/block-devices.ts';
import { eraseDeviceMetadata } from '../disks/erase-metadata.ts';
import { partitionPath, type BootMode, type DiskLabel } from '../disks/partition-layout.ts';
import { settlePartitionTable } from '../disks/partition-table.ts';
import { levelName, rootLogicalDisk } from '../disks/raid-config.ts';
import type { System } from '../system/system.ts';
import { mdadmCreateArgv, mdadmStopArgv, mdadmZeroSuperblockArgv } from '../tools/mdadm.ts';
import { sfdiskScript, sfdiskWriteArgv } from '../tools/sfdisk.ts';
import { GPT_TYPES, sgdiskCreateTableArgv, type GptPartitionSpec } from '../tools/sgdisk.ts';
import type { PlannedDisk, RaidPlan } from './raid-plan.ts';

export interface CreateContext {
  system: System;
  devices: BlockDevices;
  log: Logger;
  progress(progress: CommandProgress): void;
  signal: AbortSignal;
}

const MiB = 1024 ** 2;
/** GPT's "Linux RAID" partition type (sgdisk fd00); `fd` on msdos. */
export const LINUX_RAID_GPT_TYPE = 'A19D880F-05FC-4D3B-A006-743F0F84911E';
const LINUX_RAID_MBR_TYPE = 'fd';
/** IPA's boot partitions on the root volume's disks (§8.4): a 550 MiB ESP from 1 MiB, or a 2 MiB BIOS boot partition. */
const ESP_BYTES = 550 * MiB;
const BIOS_BOOT_BYTES = 2 * MiB;

/**
 * Builds a planned configuration (§8.3): a partition table on every member
 * disk (the boot partition first on the root volume's disks: an ESP under
 * UEFI, a BIOS boot partition on GPT), then one array per volume with
 * `mdadm --create`. Arrays carry the homehost `any`, so the deployed OS
 * assembles them under their names whatever its hostname. The arrays start
 * their initial resync in the background; this returns once they exist.
 *
 * Nothing is left half-built: on any failure the arrays made so far are
 * stopped and every disk this touched is erased again (its metadata, as
 * erase_devices_metadata does), so create can simply be run again.
 */
export async function createArrays(ctx: CreateContext, plan: RaidPlan<BlockDevice>, layout: { bootMode: BootMode; label: DiskLabel }): Promise<string[]> {
  const { system, devices, log } = ctx;
  for (const planned of plan.disks) devices.guard.check(planned.disk.name, 'build a software RAID array on');
  const root = rootLogicalDisk({ logicalDisks: plan.volumes.map((v) => v.logicalDisk) });
  const rootDisks = new Set(plan.volumes.find((v) => v.logicalDisk === root)?.members.map((m) => m.disk) ?? []);
  const touched: BlockDevice[] = [];
  const created: { device: string; members: string[] }[] = [];
  const steps = plan.disks.length + plan.volumes.length;
  try {
    for (const [index, planned] of plan.disks.entries()) {
      ctx.signal.throwIfAborted();
      ctx.progress({ stage: 'partitioning RAID members', done: index, total: steps, unit: 'steps', message: planned.disk.name });
      touched.push(planned.disk);
      const partitions = await writeMemberTable(system, planned, { ...layout, boot: rootDisks.has(planned.disk), ordinal: index });
      await settlePartitionTable(system, planned.disk, log, partitions);
      log.info({ device: planned.disk.name, label: layout.label, partitions }, 'wrote the RAID member partition table');
    }
    for (const [index, volume] of plan.volumes.entries()) {
      ctx.signal.throwIfAborted();
      const ld = volume.logicalDisk;
      ctx.progress({ stage: 'creating arrays', done: plan.disks.length + index, total: steps, unit: 'steps', message: `${volume.device} "${ld.name}" RAID ${levelName(ld.level)}` });
      const members = volume.members.map((m) => partitionPath(m.disk.name, m.partition.number));
      for (const member of members) devices.guard.check(member, 'build a software RAID array on');
      await system.run(mdadmCreateArgv({ device: volume.device, level: ld.level, name: ld.name, members, metadata: '1.2' }), { signal: ctx.signal });
      created.push({ device: volume.device, members });
      log.info({ device: volume.device, name: ld.name, level: ld.level, members }, 'created a software RAID array');
    }
    await system.run(['sync']);
    ctx.progress({ stage: 'arrays created', done: steps, total: steps, unit: 'steps', message: plan.volumes.map((v) => `${v.device} "${v.logicalDisk.name}"`).join(', ') });
  } catch (error) {
    const undone = await undo({ system, log }, created, touched, devices);
    const what = isIngotError(error) ? error.details || error.message : error instanceof Error ? error.message : String(error);
    throw new IngotError('INGOT_RAID_FAILED', {
      details: `creating the software RAID configuration failed: ${what}; ${undone.length === 0 ? 'the arrays made so far were stopped and the disks erased again, so create_configuration can be run again' : `undoing it failed on ${undone.join(', ')}: run delete_configuration before trying again`}`,
      cause: error,
    });
  }
  return created.map((array) => array.device);
}

/** Writes one member disk's table; returns the partition numbers it holds. */
async function writeMemberTable(system: System, planned: PlannedDisk<BlockDevice>, options: { bootMode: BootMode; label: DiskLabel; boot: boolean; ordinal: number }): Promise<number[]> {
  const { disk } = planned;
  const sector = disk.logicalSectorSize;
  const sectorsOf = (start: number, size: number) => ({ startSector: start / sector, endSector: (start + size) / sector - 1 });
  if (options.label === 'gpt') {
    const specs: GptPartitionSpec[] = [];
    if (options.boot && options.bootMode === 'uefi') specs.push({ number: 1, ...sectorsOf(MiB, ESP_BYTES), typeGuid: GPT_TYPES.esp, name: `uefi-holder-${options.ordinal}` });
    if (options.boot && options.bootMode === 'bios') specs.push({ number: 1, ...sectorsOf(MiB, BIOS_BOOT_BYTES), typeGuid: GPT_TYPES.biosBoot, name: `bios-boot-part-${options.ordinal}` });
    for (const { volume, partition } of planned.partitions) {
      specs.push({ number: partition.number, ...sectorsOf(partition.start, partition.size), typeGuid: LINUX_RAID_GPT_TYPE, name: `raid-md${volume}` });
    }
    await system.run(sgdiskCreateTableArgv(disk.name, specs));
    return specs.map((spec) => spec.number);
  }
  // msdos (BIOS): no boot partition; partitions are numbered in script order, as the plan numbers them.
  const script = sfdiskScript(planned.partitions.map(({ partition }) => ({ startSector: partition.start / sector, sizeSectors: partition.size / sector, type: LINUX_RAID_MBR_TYPE, bootable: false })), { newTable: true });
  await system.run(sfdiskWriteArgv(disk.name), { input: script });
  return planned.partitions.map(({ partition }) => partition.number);
}

/** Stops what was made and erases every touched disk; returns what could not be undone. */
async function undo(ctx: { system: System; log: Logger }, created: readonly { device: string; members: string[] }[], touched: readonly BlockDevice[], devices: BlockDevices): Promise<string[]> {
  const failed: string[] = [];
  for (const array of [...created].reverse()) {
    const stopped = await ctx.system.run(mdadmStopArgv(array.device), { allowFailure: true });
    if (stopped.exitCode !== 0) failed.push(array.device);
    for (const member of array.members) await ctx.system.run(mdadmZeroSuperblockArgv(member), { allowFailure: true });
  }
  for (const disk of touched) {
    try {
      await eraseDeviceMetadata({ system: ctx.system, devices, log: ctx.log }, disk);
    } catch (error) {
      ctx.log.error({ err: error, device: disk.name }, 'could not erase a disk after a failed RAID create');
      failed.push(disk.name);
    }
  }
  return failed;
}
