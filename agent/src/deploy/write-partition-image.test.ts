import { describe, expect, it } from 'vitest';
import { refusal } from '../testing.ts';
import { mkfsArgv, parseEphemeralFormat } from '../tools/mkfs.ts';
import { sfdiskScript } from '../tools/sfdisk.ts';
import { sgdiskCreateTableArgv } from '../tools/sgdisk.ts';
import { planPartitionLayout } from '../disks/partition-layout.ts';
import { gptSpecs, mbrSpecs } from './write-partition-image.ts';

const GiB = 2 ** 30;

describe('partition table of a partition image', () => {
  it('writes a UEFI layout as one sgdisk run: ESP typed EF00, root last', () => {
    const layout = planPartitionLayout({ bootMode: 'uefi', rootMb: 1024, swapMb: 0, ephemeralMb: 0, configDrive: true, configDriveMb: 1, diskSizeBytes: 4 * GiB, logicalSectorSize: 512 });
    expect(sgdiskCreateTableArgv('/dev/sda', gptSpecs(layout))).toEqual([
      'sgdisk', '--clear',
      '--new=1:2048:1128447', '--typecode=1:C12A7328-F81F-11D2-BA4B-00A0C93EC93B', '--change-name=1:efi-system-partition',
      '--new=2:1128448:1130495', '--typecode=2:0FC63DAF-8483-4772-8E79-3D69D8477DE4', '--change-name=2:config-2',
      '--new=3:1130496:3227647', '--typecode=3:0FC63DAF-8483-4772-8E79-3D69D8477DE4', '--change-name=3:root',
      '/dev/sda',
    ]);
  });

  it('writes a BIOS msdos layout as an sfdisk script with root bootable, counting 4096-byte sectors', () => {
    const layout = planPartitionLayout({ bootMode: 'bios', rootMb: 100, swapMb: 8, ephemeralMb: 16, configDrive: false, diskSizeBytes: GiB, logicalSectorSize: 4096 });
    expect(sfdiskScript(mbrSpecs(layout), { newTable: true })).toBe([
      'label: dos', '',
      'start=256, size=4096, type=83',
      'start=4352, size=2048, type=82',
      'start=6400, size=25600, type=83, bootable',
      '',
    ].join('\n'));
  });

  it('makes the ephemeral filesystem only in a format the ramdisk can make, ext4 by default', () => {
    expect(parseEphemeralFormat(null)).toBe('ext4');
    expect(mkfsArgv('ext4', '/dev/sda1', 'ephemeral0')).toEqual(['mkfs.ext4', '-F', '-q', '-L', 'ephemeral0', '/dev/sda1']);
    expect(mkfsArgv('vfat', '/dev/sda1', 'efi-part')).toEqual(['mkfs.vfat', '-n', 'efi-part', '/dev/sda1']);
    expect(refusal(() => parseEphemeralFormat('ntfs')).message).toMatch(/ephemeral_format "ntfs" is not one this ramdisk can make/);
  });
});
