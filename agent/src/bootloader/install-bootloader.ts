import { describeInput, IngotError, isIngotError, type NodeInfo, parseStrictBool } from '@ingot/protocol';
import type { Logger } from 'pino';
import type { BlockDevices } from '../disks/block-devices.ts';
import type { System } from '../system/system.ts';
import type { BootMode } from '../disks/partition-layout.ts';
import { chooseRootDevice } from '../disks/choose-root-device.ts';
import { readRamdiskBootMode } from '../disks/boot-mode.ts';
import { findEsp, partitionByUuid, readPartitions, type FoundPartition } from './find-partitions.ts';
import { mirrorEsp, raidRootOf, type RaidRoot } from '../raid/raid-boot.ts';
import type { BlockDevice } from '../disks/block-devices.ts';
import { installGrub } from './install-grub.ts';
import { registerUefiBootEntries } from './uefi-boot-entries.ts';

/** `image.install_bootloader`'s parameters (ipa-protocol.md 9.9; ironic-conductor.md 6(b)). */
export interface InstallBootloaderParams {
  /** A partition image's root filesystem UUID (or PARTUUID); a whole-disk image's MBR disk identifier (`0x…`); or null. */
  rootUuid: string | null;
  efiSystemPartUuid: string | null;
  prepBootPartUuid: string | null;
  /** IPA's default is bios; Ironic 21.4 sends uefi by default. */
  targetBootMode: BootMode;
  /** null: the agent's configuration decides. */
  ignoreBootloaderFailure: boolean | null;
}

function invalid(details: string): never {
  throw new IngotError('INGOT_INVALID_PARAMS', { details });
}

function optionalText(params: Record<string, unknown>, name: string): string | null {
  const value = params[name];
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') invalid(`${name} must be a string or null, got ${describeInput(value)}`);
  return value;
}

export function parseInstallBootloaderParams(params: Record<string, unknown>): InstallBootloaderParams {
  const mode = params.target_boot_mode ?? 'bios';
  if (mode !== 'bios' && mode !== 'uefi') invalid(`target_boot_mode must be bios or uefi, got ${describeInput(mode)}`);
  const ignore = params.ignore_bootloader_failure;
  const ignoreParsed = ignore === undefined || ignore === null ? null : parseStrictBool(ignore);
  if (ignoreParsed === undefined) invalid(`ignore_bootloader_failure must be a boolean, got ${describeInput(ignore)}`);
  return {
    rootUuid: optionalText(params, 'root_uuid'),
    efiSystemPartUuid: optionalText(params, 'efi_system_part_uuid'),
    prepBootPartUuid: optionalText(params, 'prep_boot_part_uuid'),
    targetBootMode: mode,
    ignoreBootloaderFailure: ignoreParsed,
  };
}

export interface BootloaderContext {
  system: System;
  devices: BlockDevices;
  log: Logger;
  node: NodeInfo;
  /** The lookup's `enable_bios_bootloader_install` (only honoured when truthy; off by default, 9.9 step 3). */
  biosBootloaderAllowed: boolean;
  /** IPA's `ipa-ignore-bootloader-failure`, used when the parameter is null. */
  ignoreFailureByDefault: boolean;
}

/** A whole-disk image's `root uuid` is its MBR disk identifier (9.5 step 8). */
const DISK_IDENTIFIER = /^0x[0-9a-f]{8}$/i;

/**
 * IPA's install_bootloader (9.9). UEFI NVRAM first, when the ramdisk booted
 * in UEFI and has efibootmgr: the ESP's loaders get boot entries, and that
 * is all a whole-disk image needs. A whole-disk image needs nothing else
 * (its own boot code or ESP is in place). A partition image gets the
 * image's own GRUB from a chroot: UEFI into the ESP, BIOS onto the disk —
 * the latter only when the conductor enabled it. Failures are ignored only
 * when asked to.
 */
export async function installBootloader(ctx: BootloaderContext, params: InstallBootloaderParams): Promise<null> {
  const { system, log } = ctx;
  const disk = await chooseRootDevice(ctx);
  const ignore = params.ignoreBootloaderFailure ?? ctx.ignoreFailureByDefault;
  const wholeDisk = params.rootUuid === null || DISK_IDENTIFIER.test(params.rootUuid);
  try {
    const ramdiskMode = await readRamdiskBootMode(system);
    const nvram = ramdiskMode === 'uefi' && (await system.hasTool('efibootmgr'));
    if (params.targetBootMode !== ramdiskMode) log.warn({ target: params.targetBootMode, ramdisk: ramdiskMode }, 'the target boot mode differs from the mode this ramdisk booted in');
    if (disk.type === 'file') {
      if (!wholeDisk) throw new IngotError('INGOT_BOOTLOADER_FAILED', { details: `${disk.name} is a disk file, whose partitions cannot be mounted; attach it with losetup --partscan and give the agent the loop device` });
      log.info({ device: disk.name }, 'whole-disk image on a disk file: no bootloader work possible or needed');
      return null;
    }
    const raid = await raidRootOf(ctx, disk);
    if (raid) return await installOnRaid(ctx, params, { disk, raid, nvram, wholeDisk });
    const partitions = await readPartitions(system, disk);
    if (nvram) {
      const esp = findEsp(partitions, params.efiSystemPartUuid);
      if (esp) {
        if ((await registerUefiBootEntries(system, disk, esp, log)).length > 0) return null;
      } else if (wholeDisk) {
        throw new IngotError('INGOT_DEVICE_NOT_FOUND', { details: `no EFI system partition on ${disk.name} (no partition typed EF00 or 0xEF${params.efiSystemPartUuid ? ` and none with UUID ${params.efiSystemPartUuid}` : ''}); the whole-disk image cannot boot in UEFI mode` });
      }
    }
    if (wholeDisk) {
      log.info({ device: disk.name, rootUuid: params.rootUuid, nvram }, 'whole-disk image: its own boot code stays as written');
      return null;
    }
    const root = partitionByUuid(partitions, params.rootUuid!);
    if (!root) {
      throw new IngotError('INGOT_DEVICE_NOT_FOUND', { details: `no partition on ${disk.name} has the root uuid ${params.rootUuid} (partitions: ${partitions.map((p) => `${p.node} ${p.probe.uuid ?? p.probe.partUuid ?? '-'}`).join(', ') || 'none'}); was the image written to this disk?` });
    }
    if (params.targetBootMode === 'bios' && !ctx.biosBootloaderAllowed) {
      throw new IngotError('INGOT_BIOS_BOOTLOADER_DISABLED', { details: 'installing GRUB for legacy BIOS boot is off by default (IPA\'s enable_bios_bootloader_install, a CVE-2026-43003 mitigation); the conductor enables it through the lookup, or deploy in UEFI mode' });
    }
    const esp = params.targetBootMode === 'uefi' ? findEsp(partitions, params.efiSystemPartUuid) : undefined;
    await installGrub(system, { disk, root, esp, bootMode: params.targetBootMode }, log);
    if (params.targetBootMode === 'uefi' && nvram && esp) await registerUefiBootEntries(system, disk, esp, log);
    log.info({ device: disk.name, root: root.node, mode: params.targetBootMode }, 'bootloader installed');
    return null;
  } catch (error) {
    if (ignore) {
      log.warn({ err: error, device: disk.name }, 'installing the bootloader failed; ignored as ignore_bootloader_failure asks');
      return null;
    }
    if (isIngotError(error)) throw error;
    throw new IngotError('INGOT_BOOTLOADER_FAILED', { details: `on ${disk.name}: ${(error as Error).message}`, cause: error });
  }
}

/** Filesystems an operating system's root (and its /boot/grub) may be on. */
const ROOT_FILESYSTEMS = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs']);

/**
 * Boot from a software RAID root (§8.4): firmware reads disks, not arrays,
 * so the boot code goes onto every disk under the root array. UEFI: the
 * image's ESP is mirrored over each disk's ESP partition (RAID 1, metadata
 * 1.0), and each copy gets a boot entry when NVRAM is reachable. BIOS: the
 * image's GRUB is installed onto each disk (the BIOS boot partition on GPT,
 * the post-MBR gap on msdos), from the image's root inside the array.
 */
async function installOnRaid(ctx: BootloaderContext, params: InstallBootloaderParams, target: { disk: BlockDevice; raid: RaidRoot; nvram: boolean; wholeDisk: boolean }): Promise<null> {
  const { system, log } = ctx;
  const { disk, raid } = target;
  const partitions = await readPartitions(system, disk);
  const holders = raid.holders.map((h) => h.disk.name);
  const root = target.wholeDisk ? osRoot(partitions) : partitionByUuid(partitions, params.rootUuid!);
  if (params.targetBootMode === 'uefi') {
    const esp = findEsp(partitions, params.efiSystemPartUuid);
    if (!esp) throw new IngotError('INGOT_DEVICE_NOT_FOUND', { details: `no EFI system partition in the image on the RAID root ${disk.name} (no partition typed EF00 or 0xEF${params.efiSystemPartUuid ? ` and none with UUID ${params.efiSystemPartUuid}` : ''}); the image cannot boot in UEFI mode` });
    if (!target.wholeDisk) {
      if (!root) throw new IngotError('INGOT_DEVICE_NOT_FOUND', { details: `no partition on ${disk.name} has the root uuid ${params.rootUuid}` });
      await installGrub(system, { disk, root, esp, bootMode: 'uefi' }, log);
    }
    const mirror = await mirrorEsp(ctx, raid, { node: esp.node, size: await system.deviceSize(esp.node) });
    if (target.nvram) {
      for (const [index, holder] of raid.holders.entries()) {
        const copy: FoundPartition = { number: 1, node: mirror.members[index]!, type: null, probe: esp.probe };
        await registerUefiBootEntries(system, holder.disk, copy, log);
      }
    }
    log.info({ device: disk.name, esp: mirror.device, holders, nvram: target.nvram }, 'RAID root: ESP mirrored onto every member disk');
    return null;
  }
  if (!ctx.biosBootloaderAllowed) {
    throw new IngotError('INGOT_BIOS_BOOTLOADER_DISABLED', { details: `a software RAID root (${disk.name}) boots in BIOS mode only with GRUB on every member disk (${holders.join(', ')}), and installing GRUB for legacy BIOS boot is off by default (IPA's enable_bios_bootloader_install, a CVE-2026-43003 mitigation); the conductor enables it through the lookup, or deploy in UEFI mode` });
  }
  if (!root) {
    throw new IngotError('INGOT_DEVICE_NOT_FOUND', { details: `no root filesystem found in the image on the RAID root ${disk.name} (${target.wholeDisk ? `no partition with ${[...ROOT_FILESYSTEMS].join(', ')}` : `no partition has the root uuid ${params.rootUuid}`}); GRUB cannot be installed onto ${holders.join(', ')}` });
  }
  await installGrub(system, { disk, root, esp: undefined, bootMode: 'bios', biosDisks: holders }, log);
  log.info({ device: disk.name, root: root.node, holders }, 'RAID root: GRUB installed onto every member disk');
  return null;
}

/** A whole-disk image's root: its first partition with a Linux root filesystem. */
function osRoot(partitions: readonly FoundPartition[]): FoundPartition | undefined {
  return partitions.filter((p) => p.probe.type !== null && ROOT_FILESYSTEMS.has(p.probe.type)).at(0);
}
