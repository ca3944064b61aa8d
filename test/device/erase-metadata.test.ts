import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
// Relative imports: the agent package does not export these modules yet.
import { createBlockDevices, createDeviceGuard, createLogger, createRealSystem, eraseDeviceMetadata, eraseDevicesMetadata, type BlockDevice } from '@ingot/agent';
import type { EraseContext } from '@ingot/agent';
import {
  attachLoop, createRaidMembers, detachLoop, hasTools, loopUnavailableReason, probeAt, readBytes, remainingSignatures, sh, syncPartitions,
} from './loop-disks.ts';
import { prerequisite } from '../support/prerequisite.ts';

const MiB = 1024 * 1024;
const DISK_SIZE = 64 * MiB;
const log = createLogger({ level: 'silent' });

function contextFor(disks: string[]): EraseContext {
  const guard = createDeviceGuard({ mode: 'sandbox', disks });
  const system = createRealSystem({ guard, log });
  return { system, devices: createBlockDevices({ system, guard }), log };
}

async function describeGiven(ctx: EraseContext, path: string): Promise<BlockDevice> {
  const disk = (await ctx.devices.listDisks()).find((d) => d.name === path);
  if (!disk) throw new Error(`${path} is not among the listed disks`);
  return disk;
}

/** Partition offsets in bytes, read before the erase so they can be probed after it. */
async function partitionOffsets(ctx: EraseContext, disk: BlockDevice): Promise<number[]> {
  return (await ctx.devices.listPartitions(disk)).map((p) => p.start);
}

async function expectClean(disk: string, offsets: readonly number[], partitionNodes: readonly string[]): Promise<void> {
  expect(await remainingSignatures(disk)).toBe('');
  expect(await probeAt(disk, 0)).toEqual([]);
  for (const offset of offsets) expect(await probeAt(disk, offset), `signature at ${offset}`).toEqual([]);
  // The kernel usually drops the partitions on the re-read; any node that survives must be blank too.
  for (const node of partitionNodes) {
    const exists = await sh('test', ['-b', node], { allowFailure: true });
    if (exists.exitCode === 0) expect(await remainingSignatures(node)).toBe('');
  }
  const table = await sh('sgdisk', ['--print', disk], { allowFailure: true });
  expect(table.stdout + table.stderr).toMatch(/Creating new GPT entries/);
  const head = await readBytes(disk, 0, MiB);
  const tail = await readBytes(disk, DISK_SIZE - MiB, MiB);
  expect(head.every((b) => b === 0)).toBe(true);
  expect(tail.length).toBe(MiB);
  expect(tail.every((b) => b === 0)).toBe(true);
}

const loopDevices = prerequisite('the loop-device erase tests', await loopUnavailableReason());

loopDevices.describe('erasing device metadata on loop devices', () => {
  let work = '';
  const loops: string[] = [];
  const disks: Record<'gpt512' | 'gpt4096' | 'mbr' | 'neighbour', string> = { gpt512: '', gpt4096: '', mbr: '', neighbour: '' };
  let ctx: EraseContext;

  const attach = async (name: string, sectorSize: number) => {
    const file = join(work, `${name}.img`);
    await writeFile(file, '');
    await truncate(file, DISK_SIZE);
    const device = await attachLoop(file, sectorSize);
    loops.push(device);
    return device;
  };

  /** GPT: ext4, vfat and two md RAID1 members; the helper reports how the members were made. */
  const buildGptDisk = async (device: string) => {
    await sh('sgdisk', ['-n1:0:+12M', '-t1:8300', '-n2:0:+12M', '-t2:0700', '-n3:0:+12M', '-t3:fd00', '-n4:0:+12M', '-t4:fd00', device]);
    const [p1, p2, p3, p4] = await syncPartitions(device, 4) as [string, string, string, string];
    await sh('mkfs.ext4', ['-q', '-F', p1]);
    await sh('mkfs.vfat', [p2]);
    const how = await createRaidMembers([p3, p4]);
    console.info(`RAID members on ${device} made with ${how === 'mdadm' ? 'mdadm --create' : 'a hand-written md 1.2 superblock (no md driver in this kernel)'}`);
    expect(await probeAt(p1, 0)).toEqual(['ext4']);
    expect(await probeAt(p2, 0)).toEqual(['vfat']);
    expect(await probeAt(p3, 0)).toEqual(['linux_raid_member']);
    return [p1, p2, p3, p4];
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ingot-erase-'));
    disks.gpt512 = await attach('gpt512', 512);
    disks.gpt4096 = await attach('gpt4096', 4096);
    disks.mbr = await attach('mbr', 512);
    disks.neighbour = await attach('neighbour', 512);
    await sh('mkfs.ext4', ['-q', '-F', disks.neighbour]);
    ctx = contextFor([disks.gpt512, disks.gpt4096, disks.mbr]);
  });

  afterAll(async () => {
    for (const device of loops.reverse()) await detachLoop(device);
    if (work) await rm(work, { recursive: true, force: true });
  });

  for (const sectorSize of [512, 4096] as const) {
    it(`leaves no signature, no partition table and zeroed ends on a GPT disk with ${sectorSize}-byte sectors holding ext4, vfat and RAID members`, async () => {
      const device = sectorSize === 512 ? disks.gpt512 : disks.gpt4096;
      const nodes = await buildGptDisk(device);
      const disk = await describeGiven(ctx, device);
      expect(disk.logicalSectorSize).toBe(sectorSize);
      const offsets = await partitionOffsets(ctx, disk);
      expect(offsets).toHaveLength(4);
      expect(await remainingSignatures(device)).toMatch(/gpt/);

      await eraseDeviceMetadata(ctx, disk);

      await expectClean(device, offsets, nodes);
    });
  }

  it('leaves no signature and no table on an MBR disk with an ext4 partition', async () => {
    await sh('sgdisk', ['-n1:2048:+16M', '-n2:0:0', disks.mbr]);
    await sh('sgdisk', ['--gpttombr=1:2', disks.mbr]);
    const [p1, p2] = await syncPartitions(disks.mbr, 2) as [string, string];
    await sh('mkfs.ext4', ['-q', '-F', p1]);
    expect(await probeAt(disks.mbr, 0)).toEqual(['dos']);
    const disk = await describeGiven(ctx, disks.mbr);
    const offsets = await partitionOffsets(ctx, disk);
    expect(await probeAt(disks.mbr, offsets[0] ?? -1)).toEqual(['ext4']);

    await eraseDeviceMetadata(ctx, disk);

    await expectClean(disks.mbr, offsets, [p1, p2]);
  });

  it('erases every given disk in one call and names each in the result', async () => {
    await sh('mkfs.ext4', ['-q', '-F', disks.gpt512]);
    await sh('sgdisk', ['-n1:0:+8M', disks.gpt4096]);
    const progress: unknown[] = [];

    const result = await eraseDevicesMetadata({ ...ctx, progress: (p) => progress.push(p) });

    expect(result).toEqual({ [disks.gpt512]: null, [disks.gpt4096]: null, [disks.mbr]: null });
    expect(await remainingSignatures(disks.gpt512)).toBe('');
    expect(await remainingSignatures(disks.gpt4096)).toBe('');
    expect(progress.at(-1)).toMatchObject({ stage: 'erasing metadata', done: 3, total: 3 });
  });

  it('refuses to erase a neighbouring loop device it was not given, whose filesystem survives everything above', async () => {
    const stranger: BlockDevice = {
      name: disks.neighbour, type: 'loop', size: DISK_SIZE, logicalSectorSize: 512, physicalSectorSize: 512, rotational: false,
      readOnly: false, model: null, vendor: null, serial: null, wwn: null, tran: null, hctl: null, byPath: null,
    };

    const refusal = await eraseDeviceMetadata(ctx, stranger).catch((error: unknown) => error);

    expect(isIngotError(refusal, 'INGOT_DEVICE_NOT_ALLOWED')).toBe(true);
    expect(await probeAt(disks.neighbour, 0)).toEqual(['ext4']);
  });
});

const diskTools = prerequisite('the disk-file erase test', await hasTools('sgdisk', 'wipefs', 'partx', 'blkid', 'mkfs.ext4'));

diskTools.describe('erasing device metadata in a disk file', () => {
  let work = '';
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ingot-erase-file-'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('removes the GPT and an ext4 filesystem made inside a partition of a plain file, found by offset', async () => {
    const file = join(work, 'disk.img');
    await sh('truncate', ['-s', String(DISK_SIZE), file]);
    await sh('sgdisk', ['-n1:2048:+16M', '-n2:0:+16M', file]);
    const offset = 2048 * 512;
    await sh('mkfs.ext4', ['-q', '-F', '-E', `offset=${offset}`, file, '16M']);
    expect(await probeAt(file, offset)).toEqual(['ext4']);
    const ctx = contextFor([file]);
    const [disk] = await ctx.devices.listDisks();
    expect(disk).toMatchObject({ name: file, type: 'file', size: DISK_SIZE, logicalSectorSize: 512 });
    expect(await ctx.devices.listPartitions(disk!)).toEqual([
      { number: 1, start: offset, size: 16 * MiB, node: null },
      { number: 2, start: offset + 16 * MiB, size: 16 * MiB, node: null },
    ]);

    await eraseDeviceMetadata(ctx, disk!);

    expect(await probeAt(file, offset)).toEqual([]);
    expect(await probeAt(file, 0)).toEqual([]);
    expect(await remainingSignatures(file)).toBe('');
    expect((await sh('partx', ['--show', file], { allowFailure: true })).exitCode).toBe(1);
    expect((await readBytes(file, DISK_SIZE - MiB, MiB)).every((b) => b === 0)).toBe(true);
  });
});
