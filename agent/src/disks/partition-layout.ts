import { IngotError } from '@ingot/protocol';
import type { TableFound } from './table-found.ts';

/**
 * IPA's layout for partition images (ipa-protocol.md 9.7, ironic-lib's
 * `make_partitions` and `DiskPartitioner.commit`), as a pure plan: the first
 * partition starts at 1 MiB to leave room for the table, each one ends where
 * the next starts, all in whole MiB (so aligned for 512-byte and 4 KiB
 * sectors alike), and root is last so that growroot can extend it. With
 * `preserve_ephemeral` IPA leaves the table as it is (9.7 step 1); the plan
 * then only says where the existing partitions are expected.
 */
export type BootMode = 'uefi' | 'bios';
export type DiskLabel = 'gpt' | 'msdos';

/** The keys of IPA's `partitions` dict. */
export type PartitionRole = 'efi system partition' | 'BIOS Boot partition' | 'ephemeral' | 'swap' | 'configdrive' | 'root';

export const MiB = 1024 * 1024;
/** ironic-lib `efi_system_partition_size`. */
export const ESP_MB = 550;
/** ironic-lib `bios_boot_partition_size`. */
export const BIOS_BOOT_MB = 1;
/** IPA's config-drive ceiling (9.6); the partition takes the whole of it so it can be made before the drive is fetched. */
export const CONFIG_DRIVE_MB = 64;

export interface PartitionLayoutInput {
  bootMode: BootMode;
  /** Defaults to gpt for UEFI, msdos otherwise (9.7); the node's `disk_label` capability overrides. */
  diskLabel?: DiskLabel | null;
  rootMb: number;
  swapMb: number;
  ephemeralMb: number;
  configDrive: boolean;
  /** IPA sizes the partition to the decoded drive rounded up to a MiB; the default is the 64 MiB ceiling. */
  configDriveMb?: number;
  diskSizeBytes: number;
  logicalSectorSize: number;
}

export interface PlannedPartition {
  /** 1-based number in the table. */
  number: number;
  role: PartitionRole;
  startMiB: number;
  /** Exclusive: the next partition starts here. */
  endMiB: number;
  sizeMiB: number;
  startSector: number;
  /** Inclusive last sector, as sgdisk and parted's `s` unit count. */
  endSector: number;
  /** parted's file-system type hint. */
  fsType: 'fat32' | 'linux-swap' | null;
  /** parted flags: `boot` (the ESP, or root on BIOS with msdos), `bios_grub`. */
  flags: string[];
}

export interface PartitionLayout {
  diskLabel: DiskLabel;
  partitions: PlannedPartition[];
}

function invalid(details: string): never {
  throw new IngotError('INGOT_INVALID_PARAMS', { details });
}

function wholeMb(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) invalid(`${name} must be an integer of at least ${min} MiB, got ${value}`);
}

/** GPT keeps a backup header and 128 entries of 128 bytes at the end of the disk (UEFI 2.x 5.3). */
function gptTrailerBytes(sectorSize: number): number {
  return sectorSize + 128 * 128;
}

export function planPartitionLayout(input: PartitionLayoutInput): PartitionLayout {
  const { bootMode, rootMb, swapMb, ephemeralMb, diskSizeBytes, logicalSectorSize: sector } = input;
  const diskLabel: DiskLabel = input.diskLabel ?? (bootMode === 'uefi' ? 'gpt' : 'msdos');
  wholeMb('root_mb', rootMb, 1);
  wholeMb('swap_mb', swapMb, 0);
  wholeMb('ephemeral_mb', ephemeralMb, 0);
  if (!Number.isSafeInteger(sector) || sector < 512 || sector > MiB || (sector & (sector - 1)) !== 0) invalid(`the logical sector size ${sector} is not a power of two between 512 bytes and 1 MiB`);

  const wanted: Array<[PartitionRole, number, PlannedPartition['fsType'], string[]]> = [];
  if (bootMode === 'uefi') wanted.push(['efi system partition', ESP_MB, 'fat32', ['boot']]);
  // GRUB on a BIOS machine needs somewhere outside the filesystems for its core image when the table is GPT.
  if (bootMode === 'bios' && diskLabel === 'gpt') wanted.push(['BIOS Boot partition', BIOS_BOOT_MB, null, ['bios_grub']]);
  if (ephemeralMb > 0) wanted.push(['ephemeral', ephemeralMb, null, []]);
  if (swapMb > 0) wanted.push(['swap', swapMb, 'linux-swap', []]);
  if (input.configDrive) {
    const configDriveMb = input.configDriveMb ?? CONFIG_DRIVE_MB;
    wholeMb('the config drive size', configDriveMb, 1);
    if (configDriveMb > CONFIG_DRIVE_MB) invalid(`the config drive is ${configDriveMb} MiB, more than the ${CONFIG_DRIVE_MB} MiB allowed`);
    wanted.push(['configdrive', configDriveMb, null, []]);
  }
  wanted.push(['root', rootMb, null, bootMode === 'bios' && diskLabel === 'msdos' ? ['boot'] : []]);

  // parted makes every msdos partition primary (ironic-lib), and msdos holds four.
  if (diskLabel === 'msdos' && wanted.length > 4) {
    invalid(`an msdos partition table holds 4 primary partitions and this layout needs ${wanted.length} (${wanted.map(([role]) => role).join(', ')}); use gpt`);
  }

  let start = 1;
  const partitions = wanted.map(([role, sizeMiB, fsType, flags], index): PlannedPartition => {
    const end = start + sizeMiB;
    const planned = {
      number: index + 1, role, startMiB: start, endMiB: end, sizeMiB,
      startSector: (start * MiB) / sector, endSector: (end * MiB) / sector - 1, fsType, flags,
    };
    start = end;
    return planned;
  });

  const usableBytes = diskSizeBytes - (diskLabel === 'gpt' ? gptTrailerBytes(sector) : 0);
  if (start * MiB > usableBytes) {
    invalid(`the partitions need ${start} MiB (${partitions.map((p) => `${p.role} ${p.sizeMiB}`).join(', ')}) and the disk offers ${Math.floor(usableBytes / MiB)} MiB`);
  }
  // msdos stores sectors in 32 bits: 2 TiB with 512-byte sectors.
  const last = partitions.at(-1)!;
  if (diskLabel === 'msdos' && last.endSector > 0xffffffff) invalid(`an msdos table cannot address past sector ${0xffffffff}; the root partition would end at sector ${last.endSector}; use gpt`);
  return { diskLabel, partitions };
}

/**
 * The image must fit the root partition: its virtual size in MiB, rounded up,
 * may not exceed root_mb (9.7 step 4; a 400 in IPA).
 */
export function checkImageFitsRoot(imageVirtualBytes: number, rootMb: number): void {
  const imageMb = Math.ceil(imageVirtualBytes / MiB);
  if (imageMb > rootMb) {
    throw new IngotError('INGOT_IMAGE_TOO_LARGE', {
      details: `root partition is too small for requested image. Image virtual size: ${imageMb} MB, Root size: ${rootMb} MB`,
    });
  }
}

/** The device node of a partition: `/dev/sda2`, but `/dev/nvme0n1p2` and `/dev/loop0p2` when the disk name ends in a digit. */
export function partitionPath(disk: string, number: number): string {
  return /\d$/.test(disk) ? `${disk}p${number}` : `${disk}${number}`;
}

/** IPA's `partitions` dict of a planned layout on a disk: role to device node. */
export function partitionPaths(disk: string, layout: PartitionLayout): Partial<Record<PartitionRole, string>> {
  return Object.fromEntries(layout.partitions.map((p) => [p.role, partitionPath(disk, p.number)]));
}

/**
 * The result of `standby.get_partition_uuids` (9.8): keys with spaces, as
 * Ironic reads them. Ironic stores `root uuid` as `root_uuid_or_disk_id`.
 */
export interface PartitionUuids {
  'root uuid'?: string | null;
  'efi system partition uuid'?: string | null;
  'PReP Boot partition uuid'?: string | null;
  partitions?: Partial<Record<PartitionRole | 'PReP Boot partition', string>>;
  /** Ingot extension, whole-disk images: the table the image brought (table-found.ts). */
  partition_table?: DiskLabel | null;
  /** Ingot extension, whole-disk images: the GPT disk GUID, null without GPT. */
  disk_guid?: string | null;
}

export type PartitionUuidsInput =
  /** Before prepare_image has run: IPA answers `{}`. */
  | { imageType: null }
  /**
   * Whole-disk: the disk identifier (the MBR signature), when it could be read
   * (9.5 step 8), as IPA answers it; and what the table is (Ingot's keys).
   */
  | { imageType: 'whole-disk'; diskIdentifier: string | null; table?: TableFound }
  | {
    imageType: 'partition';
    partitions: Partial<Record<PartitionRole | 'PReP Boot partition', string>>;
    /** The root filesystem's UUID, else its PARTUUID. */
    rootUuid: string | null;
    efiSystemPartitionUuid?: string | null;
    /** Only on ppc64, where IPA adds the key (9.7 step 6). */
    prepBootPartitionUuid?: string;
  };

export function partitionUuidsResult(input: PartitionUuidsInput): PartitionUuids {
  if (input.imageType === null) return {};
  if (input.imageType === 'whole-disk') {
    if (input.diskIdentifier === null) return {};
    const table = input.table ?? { partitionTable: null, diskGuid: null };
    return { 'root uuid': input.diskIdentifier, partition_table: table.partitionTable, disk_guid: table.diskGuid };
  }
  const result: PartitionUuids = {
    partitions: { ...input.partitions },
    'root uuid': input.rootUuid,
    // Always present for partition images, null without an ESP, as IPA's work_on_disk returns it.
    'efi system partition uuid': input.efiSystemPartitionUuid ?? null,
  };
  if (input.prepBootPartitionUuid !== undefined) result['PReP Boot partition uuid'] = input.prepBootPartitionUuid;
  return result;
}

/**
 * IPA's whole-disk `root uuid`: `hexdump -s 440 -n 4 -e '"0x%08x"'` of the
 * disk, i.e. the MBR disk signature read as a little-endian 32-bit number.
 */
export function diskIdentifierFromMbr(firstSector: Uint8Array): string {
  if (firstSector.length < 444) throw new RangeError('the MBR disk signature needs the first 444 bytes of the disk');
  const view = new DataView(firstSector.buffer, firstSector.byteOffset, firstSector.byteLength);
  return `0x${view.getUint32(440, true).toString(16).padStart(8, '0')}`;
}
