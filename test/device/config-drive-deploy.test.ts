import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { deployImage, parseDeployRequest } from '@ingot/agent';
import { isIngotError } from '@ingot/protocol';
import { attachLoop, detachLoop, loopUnavailableReason, readBytes, sh } from './loop-disks.ts';
import { configDriveParam, deployContext, MiB, serveFiles, sha256 } from './deploy-support.ts';
import { prerequisite } from '../support/prerequisite.ts';

/**
 * Whole-disk images with a config drive (ipa-protocol.md 9.5 steps 5-7, 9.6):
 * the image's backup GPT moved to the end of the larger disk, then a 64 MiB
 * partition at the disk's end (GPT: named config-2; msdos: a primary), or an
 * existing config-2 partition reused. Images are made by the host's sgdisk
 * and sfdisk; results are read back with partx, sgdisk -v and plain reads.
 */
const loopDevices = prerequisite('the config-drive device tests', await loopUnavailableReason());

let work = '';
let server: Awaited<ReturnType<typeof serveFiles>>;
const images: Record<string, Buffer> = {};
const loops: string[] = [];
const drive = (() => {
  const parsed = parseDeployRequest({ id: 'x', urls: ['http://127.0.0.1/x'], os_hash_algo: 'sha256', os_hash_value: 'a'.repeat(64) }, { md5Allowed: false, configdrive: configDriveParam('iso') }).configDrive;
  return parsed?.kind === 'inline' ? parsed.image : Buffer.alloc(0);
})();

async function makeImage(name: string, build: (file: string) => Promise<unknown>): Promise<void> {
  const file = join(work, name);
  await writeFile(file, '');
  await truncate(file, 16 * MiB);
  await build(file);
  images[`/${name}`] = await readFile(file);
}

/** sfdisk reads its script on stdin, which the shared `sh` helper does not feed. */
async function sfdisk(file: string, script: string): Promise<void> {
  execFileSync('sfdisk', ['--quiet', file], { input: script, stdio: ['pipe', 'ignore', 'pipe'] });
}

async function partx(path: string) {
  const { stdout } = await sh('partx', ['--raw', '--bytes', '--noheadings', '--output', 'NR,START,SIZE,TYPE,NAME', path]);
  return stdout.trim().split('\n').map((line) => {
    const [nr, start, size, type, name] = line.split(' ');
    return { nr: Number(nr), start: Number(start) * 512, size: Number(size), type, name };
  });
}

async function newDisk(sizeMiB: number, loop: boolean): Promise<string> {
  const file = join(work, `disk-${Object.keys(images).length}-${loops.length}-${Date.now()}.img`);
  await writeFile(file, '');
  await truncate(file, sizeMiB * MiB);
  if (!loop) return file;
  const device = await attachLoop(file, 512);
  loops.push(device);
  return device;
}

const GPT_DISK_GUID = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

const imageInfo = (name: string) => ({
  id: name, urls: [`${server.base}/${name}`], os_hash_algo: 'sha256', os_hash_value: sha256(images[`/${name}`]!),
  disk_format: 'raw', stream_raw_images: true, image_type: 'whole-disk',
});

loopDevices.describe('whole-disk images with a config drive', () => {
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ingot-configdrive-'));
    await makeImage('gpt.img', (f) => sh('sgdisk', ['--new=1:2048:+8M', '--typecode=1:8300', '--change-name=1:root', `--disk-guid=${GPT_DISK_GUID}`, f]));
    await makeImage('gpt-config2.img', (f) => sh('sgdisk', ['--new=1:2048:+8M', '--new=2:0:+2M', '--change-name=2:config-2', f]));
    await makeImage('mbr.img', (f) => sfdisk(f, 'label: dos\nlabel-id: 0x1234abcd\nstart=2048, size=16384, type=83, bootable\n'));
    await makeImage('mbr-full.img', (f) => sfdisk(f, 'label: dos\nstart=2048, size=4096, type=83\nstart=6144, size=4096\nstart=10240, size=4096\nstart=14336, size=4096\n'));
    server = await serveFiles(images);
  });

  afterEach(async () => {
    for (const loop of loops.splice(0)) await detachLoop(loop);
  });

  afterAll(async () => {
    await server?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  for (const loop of [true, false]) {
    it(`moves the image's backup GPT to the end of a larger ${loop ? 'loop device' : 'disk file'} and adds a 64 MiB partition named config-2 at the end holding the drive`, async () => {
      const disk = await newDisk(128, loop);
      const result = await deployImage(deployContext(disk), imageInfo('gpt.img'), { md5Allowed: false, configdrive: configDriveParam('iso') });

      expect((await sh('sgdisk', ['--verify', disk])).stdout).toMatch(/No problems found/);
      const table = await partx(disk);
      expect(table).toHaveLength(2);
      const added = table[1]!;
      expect(added).toMatchObject({ nr: 2, name: 'config-2' });
      expect(added.size).toBeGreaterThanOrEqual(63 * MiB);
      expect(added.start + added.size).toBeGreaterThan(128 * MiB - MiB);
      expect(sha256(await readBytes(disk, added.start, drive.length))).toBe(sha256(drive));
      if (loop) expect(sha256(await readBytes(`${disk}p2`, 0, drive.length))).toBe(sha256(drive));
      expect(result.partitionUuids).toEqual({ 'root uuid': '0x00000000', partition_table: 'gpt', disk_guid: GPT_DISK_GUID });
    });
  }

  it('moves the backup GPT to the end of the disk after a whole-disk image even without a config drive', async () => {
    const disk = await newDisk(64, true);
    const before = await sh('sgdisk', ['--verify', join(work, 'gpt.img')]);
    expect(before.stdout).toMatch(/No problems found/);
    await deployImage(deployContext(disk), imageInfo('gpt.img'), { md5Allowed: false });
    // The primary header's alternate LBA (byte 32 of LBA 1) now names the disk's last sector.
    expect((await readBytes(disk, 512 + 32, 8)).readBigUInt64LE()).toBe(BigInt(64 * MiB / 512 - 1));
    expect((await sh('sgdisk', ['--verify', disk])).stdout).toMatch(/No problems found/);
    expect(await partx(disk)).toHaveLength(1);
  });

  it('adds a primary partition in the last 64 MiB of an msdos disk, keeping the image\'s disk identifier', async () => {
    const disk = await newDisk(128, true);
    const result = await deployImage(deployContext(disk), imageInfo('mbr.img'), { md5Allowed: false, configdrive: configDriveParam('vfat') });

    const table = await partx(disk);
    expect(table.map(({ nr, start, size, type }) => ({ nr, start, size, type }))).toEqual([
      { nr: 1, start: MiB, size: 8 * MiB, type: '0x83' },
      { nr: 2, start: 64 * MiB, size: 64 * MiB, type: '0xc' },
    ]);
    const vfat = parseDeployRequest(imageInfo('mbr.img'), { md5Allowed: false, configdrive: configDriveParam('vfat') }).configDrive;
    const bytes = vfat?.kind === 'inline' ? vfat.image : Buffer.alloc(0);
    expect(sha256(await readBytes(`${disk}p2`, 0, bytes.length))).toBe(sha256(bytes));
    expect((await sh('blkid', ['-p', '-o', 'value', '-s', 'LABEL', `${disk}p2`])).stdout.trim()).toBe('CONFIG-2');
    expect(result.partitionUuids).toEqual({ 'root uuid': '0x1234abcd', partition_table: 'msdos', disk_guid: null });
  });

  it('reuses a partition the image already labels config-2 instead of adding one', async () => {
    const disk = await newDisk(128, true);
    await deployImage(deployContext(disk), imageInfo('gpt-config2.img'), { md5Allowed: false, configdrive: configDriveParam('iso') });

    const table = await partx(disk);
    expect(table.map(({ nr, name }) => ({ nr, name }))).toEqual([{ nr: 1, name: '' }, { nr: 2, name: 'config-2' }]);
    expect(table[1]!.size).toBe(2 * MiB);
    expect(sha256(await readBytes(`${disk}p2`, 0, drive.length))).toBe(sha256(drive));
  });

  it('fails clearly when an msdos image already uses all four primary partitions', async () => {
    const disk = await newDisk(128, true);
    const error = await deployImage(deployContext(disk), imageInfo('mbr-full.img'), { md5Allowed: false, configdrive: configDriveParam('iso') }).catch((e: unknown) => e);
    expect(isIngotError(error, 'INGOT_DEPLOYMENT_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(new RegExp(`msdos table of ${disk} already has 4 primary partitions`));
    expect(await partx(disk)).toHaveLength(4);
  });
});
