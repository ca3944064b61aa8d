import type { Logger } from 'pino';
import { IngotError } from '@ingot/protocol';
import type { BlockDevice, BlockDevices } from '../disks/block-devices.ts';
import { listArrays, type MdArray } from '../disks/md-arrays.ts';
import { partitionPath } from '../disks/partition-layout.ts';
import { isPartitionOf } from '../system/device-guard.ts';
import type { System } from '../system/system.ts';
import { mdadmCreateArgv, mdadmStopArgv, mdadmZeroSuperblockArgv } from '../tools/mdadm.ts';
import { wipefsEraseArgv } from '../tools/wipefs.ts';

export interface RaidBootContext {
  system: System;
  devices: BlockDevices;
  log: Logger;
}

/** The root volume's array and the disks under it, where the firmware looks for boot code. */
export interface RaidRoot {
  array: MdArray;
  /** Each member's disk, in member order, with its boot partition (number 1, made by create_configuration) if it has one. */
  holders: { disk: BlockDevice; bootPartition: string | null }[];
}

/** The ESP mirror's array name, as IPA names it (§8.4). */
export const ESP_ARRAY_NAME = 'esp';
/** Array numbers for the ESP mirror, above what volumes get (/dev/md<index of the logical disk>). */
const ESP_ARRAY_FIRST = 100;

/** The array under `disk` when it is a running md array, with its member disks; null for any other disk. */
export async function raidRootOf(ctx: RaidBootContext, disk: BlockDevice): Promise<RaidRoot | null> {
  if (ctx.devices.guard.mode !== 'ramdisk') return null;
  const array = (await listArrays(ctx.system, ctx.devices.guard)).find((candidate) => candidate.device === disk.name);
  if (!array) return null;
  const disks = await ctx.devices.listDisks();
  const holders: RaidRoot['holders'] = [];
  for (const member of array.members) {
    const holder = disks.find((candidate) => candidate.name !== disk.name && (member === candidate.name || isPartitionOf(member, candidate.name)));
    if (!holder || holders.some((h) => h.disk === holder)) continue;
    const partitions = await ctx.devices.listPartitions(holder);
    const first = partitions.find((p) => p.number === 1 && p.node !== null && p.node !== member);
    holders.push({ disk: holder, bootPartition: first?.node ?? (first ? partitionPath(holder.name, 1) : null) });
  }
  if (holders.length === 0) throw new IngotError('INGOT_BOOTLOADER_FAILED', { details: `the root device ${disk.name} is a software RAID array but none of its members (${array.members.join(', ')}) is on a disk the agent lists` });
  return { array, holders };
}

/**
 * The ESP of a RAID root (§8.4, UEFI): the firmware reads no md array, so
 * the ESP is mirrored over every holder's first partition as RAID 1 with
 * metadata 1.0 (the superblock at the end: each copy reads as plain vfat),
 * named `esp`. The image's own ESP (inside the root array, where firmware
 * cannot see it) is copied into the mirror block for block, which keeps its
 * filesystem UUID and label, then its signature is wiped, so the deployed
 * OS mounts the one ESP that boots. An `esp` array from an earlier
 * deployment on the same partitions is replaced.
 */
export async function mirrorEsp(ctx: RaidBootContext, root: RaidRoot, imageEsp: { node: string; size: number }): Promise<{ device: string; members: string[] }> {
  const { system, log } = ctx;
  const members = root.holders.map((holder) => holder.bootPartition);
  if (members.some((member) => member === null) || members.length < 2) {
    throw new IngotError('INGOT_BOOTLOADER_FAILED', { details: `the root array ${root.array.device} needs an EFI system partition (partition 1) on each of its disks ${root.holders.map((h) => h.disk.name).join(', ')} to boot in UEFI mode, and ${members.length < 2 ? 'it has fewer than two disks' : 'some have none'}; build the arrays with create_configuration or apply_configuration under UEFI` });
  }
  const arrays = await listArrays(system, ctx.devices.guard);
  for (const old of arrays.filter((array) => array.name === ESP_ARRAY_NAME || array.members.some((m) => members.includes(m)))) {
    log.info({ device: old.device, members: old.members }, 'replacing the ESP mirror of an earlier deployment');
    await system.run(mdadmStopArgv(old.device));
    for (const member of old.members) await system.run(mdadmZeroSuperblockArgv(member), { allowFailure: true });
  }
  const used = new Set(arrays.map((array) => array.device));
  let number = ESP_ARRAY_FIRST;
  while (used.has(`/dev/md${number}`)) number += 1;
  const device = `/dev/md${number}`;
  for (const member of members) ctx.devices.guard.check(member!, 'mirror the EFI system partition onto');
  await system.run(mdadmCreateArgv({ device, level: '1', name: ESP_ARRAY_NAME, members: members as string[], metadata: '1.0' }));
  const size = await system.deviceSize(device);
  if (imageEsp.size > size) {
    throw new IngotError('INGOT_BOOTLOADER_FAILED', { details: `the image's EFI system partition ${imageEsp.node} (${imageEsp.size} bytes) is larger than the ESP mirror ${device} (${size} bytes) on ${members.join(', ')}` });
  }
  await system.run(['dd', `if=${imageEsp.node}`, `of=${device}`, 'bs=4M', 'conv=fsync']);
  await system.run(wipefsEraseArgv(imageEsp.node));
  await system.run(['sync']);
  log.info({ device, members, from: imageEsp.node }, 'mirrored the EFI system partition over the RAID members (metadata 1.0)');
  return { device, members: members as string[] };
}
