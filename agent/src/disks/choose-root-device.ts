import type { Logger } from 'pino';
import { IngotError, type NodeInfo } from '@ingot/protocol';
import type { System } from '../system/system.ts';
import type { BlockDevice, BlockDevices } from './block-devices.ts';
import { assembleArrays, listArrays, type MdArray } from './md-arrays.ts';
import { nodeRaidConfig, rootLogicalDisk, type LogicalDisk } from './raid-config.ts';
import { rootDeviceHintsOf, selectRootDevice } from './root-device-hints.ts';

export interface RootDeviceContext {
  system: System;
  devices: BlockDevices;
  log: Logger;
  node: NodeInfo;
}

/**
 * The disk an image is written to (ipa-protocol.md 9.10, and §8.3 step 7 for
 * software RAID). With a software RAID configuration on the node, its root
 * volume wins over root device hints when it is marked `is_root_volume`;
 * without a mark the hints choose, among disks that are neither a member of
 * an array nor a volume marked false, and without hints the first volume not
 * marked false is the root. The array is found by its name, whatever number
 * the kernel gave it (an array assembled after a reboot is often md127).
 */
export async function chooseRootDevice(ctx: RootDeviceContext): Promise<BlockDevice> {
  const disks = await ctx.devices.listDisks();
  const hints = rootDeviceHintsOf(ctx.node);
  const config = nodeRaidConfig(ctx.node);
  if (!config) return selectRootDevice(disks, hints);

  const root = config.logicalDisks.find((ld) => ld.isRoot === true);
  if (root || hints === null) {
    const volume = root ?? rootLogicalDisk(config);
    if (volume) return arrayDevice(ctx, volume, disks);
  }
  const arrays = await listArrays(ctx.system, ctx.devices.guard);
  const notRoot = new Set(config.logicalDisks.filter((ld) => ld.isRoot === false).map((ld) => ld.name));
  const excluded = new Set([
    ...arrays.flatMap((array) => array.members),
    ...arrays.filter((array) => array.name !== null && notRoot.has(array.name)).map((array) => array.device),
  ]);
  return selectRootDevice(disks.filter((disk) => !excluded.has(disk.name)), hints);
}

async function arrayDevice(ctx: RootDeviceContext, volume: LogicalDisk, disks: readonly BlockDevice[]): Promise<BlockDevice> {
  if (ctx.devices.guard.mode !== 'ramdisk') {
    throw new IngotError('INGOT_DEVICE_NOT_FOUND', {
      details: `the node's target_raid_config makes ${volume.label} the root volume, and software RAID arrays exist only inside the agent's ramdisk (this agent runs on disks it was given); deploy without a software RAID target_raid_config here`,
    });
  }
  const named = (arrays: readonly MdArray[]) => arrays.find((array) => array.active && array.name === volume.name);
  let array = named(await listArrays(ctx.system, ctx.devices.guard));
  let listed = disks;
  if (!array) {
    // Built in an earlier boot (cleaning and deployment are two boots under Ironic): assemble it.
    await assembleArrays(ctx.system, ctx.devices.guard, ctx.log);
    array = named(await listArrays(ctx.system, ctx.devices.guard));
    listed = await ctx.devices.listDisks();
  }
  if (!array) {
    throw new IngotError('INGOT_DEVICE_NOT_FOUND', {
      details: `the root volume ${volume.label} of target_raid_config, the software RAID array "${volume.name}", does not exist (not running, and mdadm --assemble --scan found no members of it); create it first with the raid step create_configuration (cleaning) or apply_configuration (deployment)`,
    });
  }
  const device = listed.find((disk) => disk.name === array.device);
  if (!device) throw new IngotError('INGOT_DEVICE_NOT_FOUND', { details: `the root volume's array ${array.device} ("${volume.name}") runs but lsblk does not list it` });
  ctx.log.info({ device: device.name, volume: volume.name, level: array.level }, 'the root volume of target_raid_config is the root device');
  return device;
}
