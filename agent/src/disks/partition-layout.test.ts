import { describe, expect, it } from 'vitest';
import { refusal } from '../testing.ts';
import {
  checkImageFitsRoot, diskIdentifierFromMbr, MiB, partitionPath, partitionPaths, partitionUuidsResult, planPartitionLayout,
  type PartitionLayoutInput,
} from './partition-layout.ts';

const GiB = 1024 * MiB;
const base: PartitionLayoutInput = {
  bootMode: 'uefi', rootMb: 10240, swapMb: 0, ephemeralMb: 0, configDrive: false, diskSizeBytes: 100 * GiB, logicalSectorSize: 512,
};

const summary = (input: PartitionLayoutInput) =>
  planPartitionLayout(input).partitions.map((p) => [p.number, p.role, p.startMiB, p.endMiB, p.flags.join(',')]);


describe('planPartitionLayout', () => {
  it('lays out UEFI on GPT as IPA does: a 550 MiB ESP at 1 MiB, then ephemeral, swap, config drive, and root last', () => {
    const layout = planPartitionLayout({ ...base, ephemeralMb: 2048, swapMb: 1024, configDrive: true });
    expect(layout.diskLabel).toBe('gpt');
    expect(summary({ ...base, ephemeralMb: 2048, swapMb: 1024, configDrive: true })).toEqual([
      [1, 'efi system partition', 1, 551, 'boot'],
      [2, 'ephemeral', 551, 2599, ''],
      [3, 'swap', 2599, 3623, ''],
      [4, 'configdrive', 3623, 3687, ''],
      [5, 'root', 3687, 13927, ''],
    ]);
    expect(layout.partitions[0]).toMatchObject({ fsType: 'fat32', startSector: 2048, endSector: 551 * 2048 - 1 });
    expect(layout.partitions[2]!.fsType).toBe('linux-swap');
  });

  it('uses msdos for BIOS by default and flags root bootable, with no BIOS boot partition', () => {
    expect(planPartitionLayout({ ...base, bootMode: 'bios' }).diskLabel).toBe('msdos');
    expect(summary({ ...base, bootMode: 'bios', swapMb: 512 })).toEqual([
      [1, 'swap', 1, 513, ''],
      [2, 'root', 513, 10753, 'boot'],
    ]);
  });

  it('adds a 1 MiB BIOS boot partition for BIOS on GPT, for GRUB core image', () => {
    expect(summary({ ...base, bootMode: 'bios', diskLabel: 'gpt' })).toEqual([
      [1, 'BIOS Boot partition', 1, 2, 'bios_grub'],
      [2, 'root', 2, 10242, ''],
    ]);
  });

  it('counts sectors in the disk logical sector size, so 4Kn disks get the same MiB boundaries', () => {
    const root = planPartitionLayout({ ...base, logicalSectorSize: 4096 }).partitions[1]!;
    expect(root).toMatchObject({ startMiB: 551, startSector: 551 * 256, endSector: (551 + 10240) * 256 - 1 });
  });

  it('sizes the config drive partition to the decoded drive when told, else to the 64 MiB ceiling', () => {
    expect(planPartitionLayout({ ...base, configDrive: true, configDriveMb: 1 }).partitions[1]).toMatchObject({ role: 'configdrive', sizeMiB: 1 });
    expect(refusal(() => planPartitionLayout({ ...base, configDrive: true, configDriveMb: 65 })).message).toMatch(/more than the 64 MiB/);
  });

  it('refuses a layout larger than the disk, keeping room for the backup GPT at its end', () => {
    const exact = 1 + 550 + 10240;
    expect(refusal(() => planPartitionLayout({ ...base, diskSizeBytes: exact * MiB })).message).toMatch(/need 10791 MiB/);
    expect(planPartitionLayout({ ...base, diskSizeBytes: exact * MiB + 33 * 512 }).partitions).toHaveLength(2);
    expect(planPartitionLayout({ ...base, bootMode: 'bios', diskSizeBytes: (1 + 10240) * MiB }).partitions).toHaveLength(1);
  });

  it('refuses more than four partitions on msdos, and partitions past its 2 TiB reach with 512-byte sectors', () => {
    const five = { ...base, diskLabel: 'msdos' as const, ephemeralMb: 1, swapMb: 1, configDrive: true };
    expect(refusal(() => planPartitionLayout(five)).message).toMatch(/4 primary partitions and this layout needs 5/);
    const huge = { ...base, bootMode: 'bios' as const, rootMb: 2 * 1024 * 1024, diskSizeBytes: 4 * 1024 * GiB };
    expect(refusal(() => planPartitionLayout(huge)).message).toMatch(/cannot address past sector/);
    expect(planPartitionLayout({ ...huge, logicalSectorSize: 4096 }).partitions).toHaveLength(1);
  });

  it('refuses a missing root size, negative sizes and odd sector sizes with 400', () => {
    expect(refusal(() => planPartitionLayout({ ...base, rootMb: 0 })).status).toBe(400);
    expect(refusal(() => planPartitionLayout({ ...base, swapMb: -1 })).message).toMatch(/swap_mb/);
    expect(refusal(() => planPartitionLayout({ ...base, logicalSectorSize: 520 })).message).toMatch(/sector size 520/);
  });
});

describe('checkImageFitsRoot', () => {
  it('accepts an image whose virtual size rounded up to a MiB fits root_mb', () => {
    expect(() => checkImageFitsRoot(1024 * MiB, 1024)).not.toThrow();
  });

  it('refuses one byte more, with IPA message', () => {
    const error = refusal(() => checkImageFitsRoot(1024 * MiB + 1, 1024));
    expect(error.code).toBe('INGOT_IMAGE_TOO_LARGE');
    expect(error.message).toMatch(/Image virtual size: 1025 MB, Root size: 1024 MB/);
  });
});

describe('partition paths', () => {
  it('adds p before the number when the disk name ends in a digit', () => {
    expect(partitionPath('/dev/sda', 2)).toBe('/dev/sda2');
    expect(partitionPath('/dev/nvme0n1', 2)).toBe('/dev/nvme0n1p2');
    expect(partitionPath('/dev/loop0', 1)).toBe('/dev/loop0p1');
  });

  it('maps each planned role to its device node', () => {
    expect(partitionPaths('/dev/vda', planPartitionLayout(base))).toEqual({ 'efi system partition': '/dev/vda1', root: '/dev/vda2' });
  });
});

describe('partitionUuidsResult', () => {
  it('answers {} before prepare_image has run', () => {
    expect(partitionUuidsResult({ imageType: null })).toEqual({});
  });

  it('gives the disk identifier as root uuid for a whole-disk image, and nothing when it could not be read', () => {
    expect(partitionUuidsResult({ imageType: 'whole-disk', diskIdentifier: '0x1a2b3c4d' })).toEqual({ 'root uuid': '0x1a2b3c4d', partition_table: null, disk_guid: null });
    expect(partitionUuidsResult({ imageType: 'whole-disk', diskIdentifier: null })).toEqual({});
  });

  it('uses the keys with spaces Ironic reads for a partition image, with a null ESP uuid on BIOS', () => {
    expect(partitionUuidsResult({
      imageType: 'partition', partitions: { swap: '/dev/sda1', root: '/dev/sda2' }, rootUuid: '6a5b1c6e-0f6e-4b1e-9d4f-2f4a0c0d1e2f',
    })).toEqual({
      partitions: { swap: '/dev/sda1', root: '/dev/sda2' },
      'root uuid': '6a5b1c6e-0f6e-4b1e-9d4f-2f4a0c0d1e2f',
      'efi system partition uuid': null,
    });
  });

  it('adds the ESP uuid on UEFI and the PReP key only when given', () => {
    const result = partitionUuidsResult({
      imageType: 'partition', partitions: { 'efi system partition': '/dev/sda1', root: '/dev/sda2' },
      rootUuid: 'r', efiSystemPartitionUuid: 'E1A2-B3C4', prepBootPartitionUuid: 'p',
    });
    expect(result).toMatchObject({ 'efi system partition uuid': 'E1A2-B3C4', 'PReP Boot partition uuid': 'p' });
  });
});

describe('diskIdentifierFromMbr', () => {
  it('reads the MBR disk signature at byte 440 as hexdump prints it on x86', () => {
    const sector = Buffer.alloc(512);
    sector.set([0x4d, 0x3c, 0x2b, 0x1a], 440);
    expect(diskIdentifierFromMbr(sector)).toBe('0x1a2b3c4d');
    expect(diskIdentifierFromMbr(Buffer.alloc(512))).toBe('0x00000000');
  });
});
