import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import type { BlockDevice, BlockDevices } from './block-devices.ts';
import { createLogger } from '../log.ts';
import { createDeviceGuard } from '../system/device-guard.ts';
import type { System } from '../system/system.ts';
import { createFakeSystem, type FakeCommand } from '../testing.ts';
import { partxArgv } from '../tools/partx.ts';
import { diskMetadataRanges, partitionMetadataRanges, primaryGptBytes } from './erase-metadata-ranges.ts';
import { eraseDevicesMetadata } from './erase-metadata.ts';

const MiB = 1024 * 1024;
const log = createLogger({ level: 'silent' });
const fixture = (name: string) => readFileSync(new URL(`../tools/fixtures/${name}`, import.meta.url), 'utf8');

describe('metadata ranges', () => {
  it('zeroes a whole MiB at each end of a disk, whatever its sector size', () => {
    for (const sector of [512, 4096, 65536]) {
      expect(diskMetadataRanges(64 * MiB, sector)).toEqual([{ offset: 0, length: MiB }, { offset: 63 * MiB, length: MiB }]);
    }
  });

  it('counts the primary GPT as MBR, header and a 16 KiB entry array in whole sectors, one more than the 33 and 5 sectors IPA zeroes', () => {
    // LBA 0 (MBR), LBA 1 (header), LBA 2-33 (entries): 34 sectors of 512 bytes.
    expect(primaryGptBytes(512)).toBe(34 * 512);
    expect(primaryGptBytes(4096)).toBe(6 * 4096);
  });

  it('keeps the tail range on a sector boundary when a disk file ends mid-sector', () => {
    const ranges = diskMetadataRanges(8 * MiB + 100, 4096);
    expect(ranges[1]).toEqual({ offset: 7 * MiB, length: MiB + 100 });
  });

  it('zeroes a disk smaller than two MiB once, in full', () => {
    expect(diskMetadataRanges(MiB + 512, 512)).toEqual([{ offset: 0, length: MiB + 512 }]);
  });

  it('zeroes the first and last MiB of a partition, and a small partition only once', () => {
    expect(partitionMetadataRanges({ start: MiB, size: 16 * MiB }, 64 * MiB, 512)).toEqual([{ offset: MiB, length: MiB }, { offset: 16 * MiB, length: MiB }]);
    expect(partitionMetadataRanges({ start: MiB, size: 512 * 1024 }, 64 * MiB, 4096)).toEqual([{ offset: MiB, length: 512 * 1024 }]);
    expect(partitionMetadataRanges({ start: 60 * MiB, size: 16 * MiB }, 64 * MiB, 512)).toEqual([{ offset: 60 * MiB, length: MiB }, { offset: 63 * MiB, length: MiB }]);
  });

  it('refuses a sector size that is not a power of two', () => {
    expect(() => diskMetadataRanges(MiB, 520)).toThrow(/sector size 520/);
  });
});

function diskFile(name: string, readOnly = false): BlockDevice {
  return {
    name, type: 'file', size: 8 * MiB, logicalSectorSize: 512, physicalSectorSize: 512, rotational: false, readOnly,
    model: null, vendor: null, serial: null, wwn: null, tran: null, hctl: null, byPath: null,
  };
}

/** Disk files whose tools answer as on a blank disk, except where `leftover` says wipefs still sees something. */
function setup(disks: BlockDevice[], leftover: Record<string, string> = {}) {
  const commands: FakeCommand[] = disks.flatMap((disk) => [
    { argv: ['wipefs', '--all', '--force', disk.name] },
    { argv: ['sgdisk', '--zap-all', disk.name], stdout: fixture('sgdisk-zap-gpt.stdout.txt') },
    { argv: ['wipefs', '--no-act', '--json', disk.name], stdout: leftover[disk.name] ?? fixture('wipefs-list-empty.json') },
    { argv: partxArgv(disk.name), exitCode: 1, stderr: fixture('partx-no-table.stderr.txt') },
  ]);
  const fake = createFakeSystem({ commands, files: Object.fromEntries(disks.map((d) => [d.name, ''])) });
  const zeroed: string[] = [];
  const system: System = {
    ...fake,
    deviceSize: async () => 8 * MiB,
    zeroRange: async (path, offset, length) => void zeroed.push(`${path}@${offset}+${length}`),
    readRange: async (_path, _offset, length) => Buffer.alloc(length),
  };
  const guard = createDeviceGuard({ mode: 'sandbox', disks: disks.map((d) => d.name) });
  const devices: BlockDevices = { guard, listDisks: async () => disks, listPartitions: async () => [] };
  return { ctx: { system, devices, log }, zeroed };
}

describe('eraseDevicesMetadata', () => {
  it('erases every disk and reports progress per device', async () => {
    const { ctx, zeroed } = setup([diskFile('/tmp/a.img'), diskFile('/tmp/b.img')]);
    const progress: unknown[] = [];

    expect(await eraseDevicesMetadata({ ...ctx, progress: (p) => progress.push(p) })).toEqual({ '/tmp/a.img': null, '/tmp/b.img': null });
    expect(zeroed).toEqual(['/tmp/a.img@0+1048576', '/tmp/a.img@7340032+1048576', '/tmp/b.img@0+1048576', '/tmp/b.img@7340032+1048576']);
    expect(progress).toHaveLength(3);
  });

  it('fails on a read-only disk by name, after erasing the others', async () => {
    const { ctx, zeroed } = setup([diskFile('/tmp/ro.img', true), diskFile('/tmp/b.img')]);

    const error = await eraseDevicesMetadata(ctx).catch((e: unknown) => e);

    expect(isIngotError(error, 'INGOT_ERASE_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/\/tmp\/ro\.img: \/tmp\/ro\.img: the device is read-only/);
    expect(zeroed.every((entry) => entry.startsWith('/tmp/b.img'))).toBe(true);
  });

  it('skips a read-only disk when told to', async () => {
    const { ctx } = setup([diskFile('/tmp/ro.img', true), diskFile('/tmp/b.img')]);
    expect(await eraseDevicesMetadata(ctx, { skipReadOnly: true })).toEqual({ '/tmp/b.img': null });
  });

  it('refuses to call a disk erased while wipefs still finds a signature on it, and says which', async () => {
    const { ctx } = setup([diskFile('/tmp/a.img'), diskFile('/tmp/b.img')], { '/tmp/b.img': fixture('wipefs-list-loop-gpt-512.json') });

    const error = await eraseDevicesMetadata(ctx).catch((e: unknown) => e);

    expect(isIngotError(error, 'INGOT_ERASE_FAILED')).toBe(true);
    expect((error as Error).message).toContain('1 of 2 devices');
    expect((error as Error).message).toContain('/tmp/b.img: metadata remains after the erase: signatures gpt at 0x200');
  });
});
