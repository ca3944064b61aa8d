import { randomUUID } from 'node:crypto';
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
 * Partition images (ipa-protocol.md 9.7) deployed by the agent's real code
 * onto loop devices: the layout written with sgdisk/sfdisk, filesystems made,
 * the image streamed into the root partition, the config drive copied into
 * its own, and every value checked with the host's own blkid and partx.
 */
const loopDevices = prerequisite('the partition-image device tests', await loopUnavailableReason());

let work = '';
let server: Awaited<ReturnType<typeof serveFiles>>;
const rootFsUuid = randomUUID();
let rootImage = Buffer.alloc(0);
const loops: string[] = [];

async function blkid(path: string): Promise<Record<string, string>> {
  const { stdout } = await sh('blkid', ['-p', '-o', 'export', path], { allowFailure: true });
  return Object.fromEntries(stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

async function partx(path: string) {
  const { stdout } = await sh('partx', ['--raw', '--bytes', '--noheadings', '--output', 'NR,START,SIZE,TYPE,NAME', path]);
  return stdout.trim().split('\n').map((line) => {
    const [nr, start, size, type, name] = line.split(' ');
    return { nr: Number(nr), startMiB: Number(start) * 512 / MiB, sizeMiB: Number(size) / MiB, type, name: (name ?? '').replace(/\\x20/g, ' ') };
  });
}

async function newLoop(sizeMiB: number, sectorSize = 512): Promise<string> {
  const file = join(work, `disk-${loops.length}.img`);
  await writeFile(file, '');
  await truncate(file, sizeMiB * MiB);
  const loop = await attachLoop(file, sectorSize);
  loops.push(loop);
  return loop;
}

const imageInfo = (extra: Record<string, unknown>) => ({
  id: 'root.img', urls: [`${server.base}/root.img`], os_hash_algo: 'sha256', os_hash_value: sha256(rootImage),
  disk_format: 'raw', stream_raw_images: true, image_type: 'partition', node_uuid: '1be26c0b-03f2-4d4e-9e8c-5f1b5c1b0a07', ...extra,
});

loopDevices.describe('partition images on loop devices', () => {
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ingot-partition-'));
    // The "partition image": an ext4 filesystem with a known UUID, as a cloud image's root partition is.
    const rootFile = join(work, 'root.img');
    await writeFile(rootFile, '');
    await truncate(rootFile, 20 * MiB);
    await sh('mkfs.ext4', ['-q', '-F', '-U', rootFsUuid, '-L', 'img-root', rootFile]);
    rootImage = await readFile(rootFile);
    server = await serveFiles({ '/root.img': rootImage, '/big.img': Buffer.alloc(40 * MiB, 1), '/configdrive': Buffer.from(configDriveParam('vfat')) });
  });

  afterEach(async () => {
    for (const loop of loops.splice(0)) await detachLoop(loop);
  });

  afterAll(async () => {
    await server?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('lays out ephemeral, swap, config drive and root on msdos for BIOS, streams the image into root and reports blkid\'s UUIDs', async () => {
    const disk = await newLoop(128);
    const ctx = deployContext(disk, { instance_info: { capabilities: { boot_mode: 'bios' } } });
    const result = await deployImage(ctx, imageInfo({ root_mb: 32, swap_mb: 8, ephemeral_mb: 16, ephemeral_format: 'ext4' }), { md5Allowed: false, configdrive: configDriveParam('iso') });

    const table = await partx(disk);
    expect(table.map(({ nr, startMiB, sizeMiB, type }) => ({ nr, startMiB, sizeMiB, type }))).toEqual([
      { nr: 1, startMiB: 1, sizeMiB: 16, type: '0x83' },
      { nr: 2, startMiB: 17, sizeMiB: 8, type: '0x82' },
      { nr: 3, startMiB: 25, sizeMiB: 1, type: '0xc' },
      { nr: 4, startMiB: 26, sizeMiB: 32, type: '0x83' },
    ]);
    expect((await sh('sfdisk', ['--dump', disk])).stdout).toMatch(new RegExp(`${disk}p4 : .*bootable`));
    const [ephemeral, swap, configDrive, root] = await Promise.all([1, 2, 3, 4].map((n) => blkid(`${disk}p${n}`)));
    expect(ephemeral).toMatchObject({ TYPE: 'ext4', LABEL: 'ephemeral0' });
    expect(swap).toMatchObject({ TYPE: 'swap', LABEL: 'swap1' });
    expect(configDrive).toMatchObject({ TYPE: 'iso9660', LABEL: 'config-2' });
    expect(root).toMatchObject({ TYPE: 'ext4', UUID: rootFsUuid, LABEL: 'img-root' });

    const decoded = parseDeployRequest(imageInfo({ root_mb: 32 }), { md5Allowed: false, configdrive: configDriveParam('iso') }).configDrive;
    const iso = decoded?.kind === 'inline' ? decoded.image : Buffer.alloc(0);
    expect(sha256(await readBytes(`${disk}p3`, 0, iso.length))).toBe(sha256(iso));
    expect(sha256(await readBytes(`${disk}p4`, 0, rootImage.length))).toBe(sha256(rootImage));

    expect(result.partitionUuids).toEqual({
      'root uuid': rootFsUuid,
      'efi system partition uuid': null,
      partitions: { ephemeral: `${disk}p1`, swap: `${disk}p2`, configdrive: `${disk}p3`, root: `${disk}p4` },
    });
    expect(result.result).toBe(`prepare_image: image (root.img) written to device ${disk} root_uuid=${rootFsUuid}`);
  });

  it('makes a GPT with a 550 MiB ESP for UEFI on a 4096-byte-sector disk, without a config drive, and reports the ESP\'s vfat UUID', async () => {
    const disk = await newLoop(640, 4096);
    const ctx = deployContext(disk, { properties: { capabilities: 'boot_mode:uefi' } });
    const result = await deployImage(ctx, imageInfo({ root_mb: 24, deploy_boot_mode: 'uefi' }), { md5Allowed: false });

    const table = await partx(disk);
    expect(table.map(({ nr, startMiB, sizeMiB, type }) => ({ nr, startMiB, sizeMiB, type }))).toEqual([
      { nr: 1, startMiB: 1, sizeMiB: 550, type: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b' },
      { nr: 2, startMiB: 551, sizeMiB: 24, type: '0fc63daf-8483-4772-8e79-3d69d8477de4' },
    ]);
    const esp = await blkid(`${disk}p1`);
    expect(esp).toMatchObject({ TYPE: 'vfat', LABEL_FATBOOT: 'efi-part' });
    expect((await blkid(`${disk}p2`)).UUID).toBe(rootFsUuid);
    expect(result.partitionUuids).toEqual({
      'root uuid': rootFsUuid,
      'efi system partition uuid': esp.UUID,
      partitions: { 'efi system partition': `${disk}p1`, root: `${disk}p2` },
    });
    expect(result.result).toBe(`prepare_image: image (root.img) written to device ${disk} root_uuid=${rootFsUuid} efi_system_partition_uuid=${esp.UUID}`);
  });

  it('takes the config drive from a URL, into the layout\'s config drive partition of a BIOS GPT with its BIOS boot partition', async () => {
    const disk = await newLoop(96);
    const ctx = deployContext(disk, { instance_info: { capabilities: 'boot_mode:bios,disk_label:gpt' } });
    const result = await deployImage(ctx, imageInfo({ root_mb: 24 }), { md5Allowed: false, configdrive: `${server.base}/configdrive` });

    const table = await partx(disk);
    expect(table.map(({ nr, sizeMiB, name }) => ({ nr, sizeMiB, name }))).toEqual([
      { nr: 1, sizeMiB: 1, name: 'bios-boot-partition' },
      { nr: 2, sizeMiB: 1, name: 'config-2' },
      { nr: 3, sizeMiB: 24, name: 'root' },
    ]);
    expect(await blkid(`${disk}p2`)).toMatchObject({ TYPE: 'vfat', LABEL: 'CONFIG-2' });
    expect(table[0]!.type).toBe('21686148-6449-6e6f-744e-656564454649');
    expect(result.partitionUuids.partitions).toEqual({ 'BIOS Boot partition': `${disk}p1`, configdrive: `${disk}p2`, root: `${disk}p3` });
  });

  it('keeps the ephemeral filesystem with preserve_ephemeral and rewrites root', async () => {
    const disk = await newLoop(96);
    const ctx = deployContext(disk, { instance_info: { capabilities: { boot_mode: 'bios' } } });
    await deployImage(ctx, imageInfo({ root_mb: 24, ephemeral_mb: 16 }), { md5Allowed: false });
    const ephemeralUuid = (await blkid(`${disk}p1`)).UUID;
    await sh('dd', ['if=/dev/zero', `of=${disk}p2`, 'bs=1M', 'count=1', 'conv=fsync']);

    const again = await deployImage(ctx, imageInfo({ root_mb: 24, ephemeral_mb: 16, preserve_ephemeral: true }), { md5Allowed: false });
    expect((await blkid(`${disk}p1`)).UUID).toBe(ephemeralUuid);
    expect(again.partitionUuids['root uuid']).toBe(rootFsUuid);

    const moved = await deployImage(ctx, imageInfo({ root_mb: 24, ephemeral_mb: 8, preserve_ephemeral: true }), { md5Allowed: false }).catch((e: unknown) => e);
    expect(isIngotError(moved, 'INGOT_INVALID_PARAMS')).toBe(true);
    expect((moved as Error).message).toMatch(/preserve_ephemeral is set but the partitions on .* are not the layout of this request/);
    expect((await blkid(`${disk}p1`)).UUID).toBe(ephemeralUuid);
  });

  it('refuses an image larger than root_mb before writing it, naming root_mb', async () => {
    const disk = await newLoop(96);
    const ctx = deployContext(disk, { instance_info: { capabilities: { boot_mode: 'bios' } } });
    const big = Buffer.alloc(40 * MiB, 1);
    const error = await deployImage(ctx, { ...imageInfo({ root_mb: 24 }), id: 'big.img', urls: [`${server.base}/big.img`], os_hash_value: sha256(big) }, { md5Allowed: false }).catch((e: unknown) => e);
    expect(isIngotError(error, 'INGOT_IMAGE_TOO_LARGE')).toBe(true);
    expect((error as Error).message).toMatch(/root_mb is 24/);
    expect((await readBytes(`${disk}p1`, 0, MiB)).every((b) => b === 0)).toBe(true);
  });

  it('refuses a partition image on a disk file, saying how to attach it as a loop device', async () => {
    const file = join(work, 'plain.img');
    await writeFile(file, '');
    await truncate(file, 64 * MiB);
    const error = await deployImage(deployContext(file), imageInfo({ root_mb: 24 }), { md5Allowed: false }).catch((e: unknown) => e);
    expect(isIngotError(error, 'INGOT_DEPLOYMENT_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/losetup --partscan/);
  });
});
