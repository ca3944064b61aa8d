import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { deployImage, installBootloader, parseInstallBootloaderParams } from '@ingot/agent';
import { isIngotError } from '@ingot/protocol';
import { attachLoop, detachLoop, hasTools, loopUnavailableReason, readBytes, sh } from './loop-disks.ts';
import { deployContext, log, MiB, serveFiles, sha256 } from './deploy-support.ts';
import { listFatFiles, readExt4File, readFatFile } from '../support/disk-file-reader.ts';
import { buildGrubRootImage, grubRootUnavailable, TEST_KERNEL } from '../support/grub-root.ts';
import { prerequisite } from '../support/prerequisite.ts';

/**
 * image.install_bootloader for partition images (ipa-protocol.md 9.9 step 3),
 * for real: the image's root is a filesystem holding this host's GRUB
 * (test/support/grub-root.ts); the agent deploys it onto a loop device, mounts it, binds
 * /dev /proc /sys, and runs the image's grub-install and grub-mkconfig in a
 * chroot. The test then reads the MBR boot code, the embedded core.img, and
 * the generated grub.cfg; for UEFI, the removable-media loader on the ESP.
 * NVRAM entries need efivarfs, which this host lacks: they are covered by
 * uefi-boot-entries.test.ts on efibootmgr output captured under OVMF.
 */
const skip = (await loopUnavailableReason()) ?? grubRootUnavailable(['i386-pc', 'x86_64-efi']) ?? (await hasTools('chroot', 'mount', 'debugfs', 'mdir', 'mtype'));
const bootloaderTools = prerequisite('the bootloader device tests', skip);

/**
 * The ESP is vfat; some CI kernels (this one among them) have no vfat driver,
 * so nothing can mount it here. The QEMU deploy test runs the same UEFI
 * install inside the ramdisk, whose kernel has vfat, and never skips in CI.
 */
const vfatMissing = (await readFile('/proc/filesystems', 'utf8')).includes('\tvfat') || (await sh('modprobe', ['vfat'], { allowFailure: true })).exitCode === 0
  ? null : 'this kernel cannot mount vfat (no vfat in /proc/filesystems, modprobe vfat failed); test/e2e/deploy.test.ts installs GRUB for UEFI inside the ramdisk in QEMU instead';
if (!skip && vfatMissing) console.warn(`UEFI GRUB device test skipped: ${vfatMissing}`);

let work = '';
let server: Awaited<ReturnType<typeof serveFiles>>;
const rootFsUuid = randomUUID();
let rootImage = Buffer.alloc(0);
const loops: string[] = [];

async function newLoop(sizeMiB: number): Promise<string> {
  const file = join(work, `disk-${loops.length}-${Date.now()}.img`);
  await writeFile(file, '');
  await truncate(file, sizeMiB * MiB);
  const loop = await attachLoop(file, 512);
  loops.push(loop);
  return loop;
}

const imageInfo = (extra: Record<string, unknown> = {}) => ({
  id: 'grub-root.img', urls: [`${server.base}/grub-root.img`], os_hash_algo: 'sha256', os_hash_value: sha256(rootImage),
  disk_format: 'raw', stream_raw_images: true, image_type: 'partition', root_mb: 80, ...extra,
});

const bootloaderContext = (disk: string, biosBootloaderAllowed: boolean) => ({ ...deployContext(disk), log, biosBootloaderAllowed, ignoreFailureByDefault: false });

bootloaderTools.describe('image.install_bootloader on loop devices', () => {
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ingot-bootloader-'));
    const file = join(work, 'grub-root.img');
    buildGrubRootImage(file, { platforms: ['i386-pc', 'x86_64-efi'], uuid: rootFsUuid, sizeMiB: 72 });
    rootImage = await readFile(file);
    server = await serveFiles({ '/grub-root.img': rootImage });
  }, 300_000);

  afterEach(async () => {
    for (const loop of loops.splice(0)) await detachLoop(loop);
  });

  afterAll(async () => {
    await server?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('installs the image\'s own GRUB for BIOS: boot code in the MBR, core.img after it, and a grub.cfg that finds root by UUID', async () => {
    const disk = await newLoop(128);
    const ctx = deployContext(disk, { instance_info: { capabilities: { boot_mode: 'bios' } } });
    const deployed = await deployImage(ctx, imageInfo(), { md5Allowed: false });
    expect(deployed.partitionUuids['root uuid']).toBe(rootFsUuid);
    expect((await readBytes(disk, 0, 440)).every((b) => b === 0)).toBe(true);

    const params = parseInstallBootloaderParams({ root_uuid: rootFsUuid, efi_system_part_uuid: null, prep_boot_part_uuid: null, target_boot_mode: 'bios' });
    expect(await installBootloader(bootloaderContext(disk, true), params)).toBeNull();

    const mbr = await readBytes(disk, 0, 512);
    expect(mbr.subarray(0, 440).toString('latin1')).toContain('GRUB');
    // boot.img's kernel_sector (offset 0x5c) points at core.img, embedded right after the MBR.
    expect(mbr.readBigUInt64LE(0x5c)).toBe(1n);
    expect(mbr.readUInt16LE(510)).toBe(0xaa55);
    const core = await readBytes(disk, 512, 64 * 1024);
    expect(core.every((b) => b === 0)).toBe(false);
    const root = `${disk}p1`;
    const config = readExt4File(root, '/boot/grub/grub.cfg');
    expect(config).toContain(`search --no-floppy --fs-uuid --set=root ${rootFsUuid}`);
    // 10_linux writes root=UUID=... only when /dev/disk/by-uuid has the link (udev); without udev it names the node.
    expect(config).toMatch(new RegExp(`linux\\s+/boot/${TEST_KERNEL} root=(UUID=${rootFsUuid}|${root})`));
    expect(readExt4File(root, '/boot/grub/i386-pc/normal.mod').length).toBeGreaterThan(1000);
    expect((await sh('findmnt', ['--source', root], { allowFailure: true })).stdout.trim()).toBe('');
  });

  it('refuses a BIOS GRUB install unless the conductor enabled it, and touches nothing', async () => {
    const disk = await newLoop(128);
    const ctx = deployContext(disk, { instance_info: { capabilities: { boot_mode: 'bios' } } });
    await deployImage(ctx, imageInfo(), { md5Allowed: false });
    const params = parseInstallBootloaderParams({ root_uuid: rootFsUuid, target_boot_mode: 'bios' });

    const error = await installBootloader(bootloaderContext(disk, false), params).catch((e: unknown) => e);
    expect(isIngotError(error, 'INGOT_BIOS_BOOTLOADER_DISABLED')).toBe(true);
    expect((await readBytes(disk, 0, 440)).every((b) => b === 0)).toBe(true);
    expect(await installBootloader(bootloaderContext(disk, false), { ...params, ignoreBootloaderFailure: true })).toBeNull();
  });

  it('installs GRUB for UEFI into the ESP as the removable-media loader EFI/BOOT/BOOTX64.EFI', async (context) => {
    context.skip(vfatMissing !== null, vfatMissing ?? undefined);
    const disk = await newLoop(700);
    const ctx = deployContext(disk, { instance_info: { capabilities: { boot_mode: 'uefi' } } });
    const deployed = await deployImage(ctx, imageInfo({ deploy_boot_mode: 'uefi' }), { md5Allowed: false });
    const espUuid = deployed.partitionUuids['efi system partition uuid']!;
    const params = parseInstallBootloaderParams({ root_uuid: rootFsUuid, efi_system_part_uuid: espUuid, target_boot_mode: 'uefi' });
    expect(await installBootloader(bootloaderContext(disk, false), params)).toBeNull();

    expect(listFatFiles(`${disk}p1`, '/EFI')).toContainEqual(expect.stringMatching(/^::\/EFI\/BOOT\/BOOTX64\.EFI$/i));
    expect(readFatFile(`${disk}p1`, '/EFI/BOOT/BOOTX64.EFI').subarray(0, 2).toString('latin1')).toBe('MZ');
    expect(readExt4File(`${disk}p2`, '/boot/grub/grub.cfg')).toContain(rootFsUuid);
  });

  it('fails with the root uuid it could not find, naming the disk', async () => {
    const disk = await newLoop(128);
    const ctx = deployContext(disk, { instance_info: { capabilities: { boot_mode: 'bios' } } });
    await deployImage(ctx, imageInfo(), { md5Allowed: false });
    const error = await installBootloader(bootloaderContext(disk, true), parseInstallBootloaderParams({ root_uuid: '00000000-1111-2222-3333-444444444444', target_boot_mode: 'bios' })).catch((e: unknown) => e);
    expect(isIngotError(error, 'INGOT_DEVICE_NOT_FOUND')).toBe(true);
    expect((error as Error).message).toMatch(new RegExp(`no partition on ${disk} has the root uuid 00000000-1111`));
  });
});
