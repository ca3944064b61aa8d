import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import type { BlockDevice, BlockDevices } from '../disks/block-devices.ts';
import { createLogger } from '../log.ts';
import { createDeviceGuard } from '../system/device-guard.ts';
import { createFakeSystem, refusal, type FakeCommand } from '../testing.ts';
import { partxArgv } from '../tools/partx.ts';
import { parseBootCsv, textOfBootCsv } from './boot-csv.ts';
import { installBootloader, parseInstallBootloaderParams } from './install-bootloader.ts';

/**
 * The UEFI side of install_bootloader, which needs efivarfs: efibootmgr's
 * answers are real output captured under OVMF (tools/fixtures/capture-efibootmgr.sh),
 * on a disk with the same table as partx-file-gpt-esp.txt. The fake system
 * answers by argv and throws on anything unexpected.
 */
const tools = (name: string) => readFileSync(new URL(`../tools/fixtures/${name}`, import.meta.url), 'utf8');
const log = createLogger({ level: 'silent' });
const MNT = '/tmp/ingot-mnt.Xy12ab';
const disk: BlockDevice = {
  name: '/dev/vda', type: 'disk', size: 256 * 2 ** 20, logicalSectorSize: 512, physicalSectorSize: 512, rotational: false, readOnly: false,
  model: null, vendor: null, serial: null, wwn: null, tran: null, hctl: null, byPath: null,
};

function setup(options: { uefi: boolean; espFiles: Record<string, string>; extra?: FakeCommand[]; partx?: string }) {
  const commands: FakeCommand[] = [
    { argv: partxArgv('/dev/vda'), stdout: options.partx ?? tools('partx-file-gpt-esp.txt') },
    { argv: ['blkid', '--probe', '--output', 'export', '/dev/vda1'], stdout: 'UUID=4216-BE2B\nTYPE=vfat\nPART_ENTRY_UUID=5e3c11ae-8712-4fda-a804-73e9684a73d0\n' },
    { argv: ['blkid', '--probe', '--output', 'export', '/dev/vda2'], stdout: 'UUID=4f329967-6533-4545-9b30-892992975ed4\nTYPE=ext4\n' },
    { argv: ['mktemp', '-d', '/tmp/ingot-mnt.XXXXXX'], stdout: `${MNT}\n` },
    { argv: ['mount', '-t', 'vfat', '/dev/vda1', MNT] },
    { argv: ['umount', MNT] },
    { argv: ['rmdir', MNT] },
    { argv: ['efibootmgr', '-v'], stdout: tools('efibootmgr-create-again.txt') },
    { argv: ['efibootmgr', '-b', /^000[12]$/, '-B'], stdout: tools('efibootmgr-delete.txt') },
    { argv: ['efibootmgr', '-v', '-c', '-d', '/dev/vda', '-p', '1', '-w', '-L', /.+/, '-l', /.+/], stdout: tools('efibootmgr-create.txt') },
    ...(options.extra ?? []),
  ];
  const files = Object.fromEntries(Object.entries(options.espFiles).map(([path, text]) => [`${MNT}/${path}`, text]));
  if (options.uefi) files['/sys/firmware/efi/systab'] = '';
  const system = createFakeSystem({ commands, files, tools: ['efibootmgr'] });
  const devices: BlockDevices = { guard: createDeviceGuard({ mode: 'sandbox', disks: ['/dev/vda'] }), listDisks: async () => [disk], listPartitions: async () => [] };
  const ctx = { system, devices, log, node: { uuid: 'n', instance_info: { root_device: { name: '/dev/vda' } } }, biosBootloaderAllowed: false, ignoreFailureByDefault: false };
  return { system, ctx };
}

/** Ironic 21.4's call after a whole-disk image in UEFI mode (ironic-conductor.md 6(b)). */
const wholeDiskUefi = parseInstallBootloaderParams({ root_uuid: '0x00000000', efi_system_part_uuid: null, prep_boot_part_uuid: null, target_boot_mode: 'uefi' });

describe('install_bootloader, UEFI NVRAM', () => {
  it('registers the whole-disk image\'s removable loader as ironic1 on the ESP, deleting the entries already labelled ironic1 first', async () => {
    const { system, ctx } = setup({ uefi: true, espFiles: { 'EFI/BOOT/BOOTX64.EFI': 'MZ', 'EFI/BOOT/fbx64.efi': 'MZ' } });
    expect(await installBootloader(ctx, wholeDiskUefi)).toBeNull();
    const efi = system.calls.filter((argv) => argv[0] === 'efibootmgr');
    expect(efi).toEqual([
      ['efibootmgr', '-v'],
      ['efibootmgr', '-b', '0001', '-B'],
      ['efibootmgr', '-b', '0002', '-B'],
      ['efibootmgr', '-v', '-c', '-d', '/dev/vda', '-p', '1', '-w', '-L', 'ironic1', '-l', '\\EFI\\BOOT\\BOOTX64.EFI'],
    ]);
    // The ESP is unmounted before NVRAM is touched, and its directory removed.
    expect(system.calls.findIndex((argv) => argv[0] === 'umount')).toBeLessThan(system.calls.findIndex((argv) => argv[0] === 'efibootmgr'));
    expect(system.calls).toContainEqual(['rmdir', MNT]);
  });

  it('prefers the vendor\'s BOOTX64.CSV (UTF-16) over loaders found by name, taking its label', async () => {
    const csv = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('shimx64.efi,debian,,This is the boot entry for debian\r\n', 'utf16le')]);
    const { system, ctx } = setup({ uefi: true, espFiles: { 'EFI/BOOT/BOOTX64.EFI': 'MZ', 'EFI/debian/BOOTX64.CSV': csv.toString('utf8'), 'EFI/debian/shimx64.efi': 'MZ' } });
    await installBootloader(ctx, wholeDiskUefi);
    expect(system.calls.filter((argv) => argv.includes('-c'))).toEqual([
      ['efibootmgr', '-v', '-c', '-d', '/dev/vda', '-p', '1', '-w', '-L', 'debian', '-l', '\\EFI\\debian\\shimx64.efi'],
    ]);
    expect(system.calls.filter((argv) => argv.includes('-B'))).toEqual([]);
  });

  it('fails with DeviceNotFound when a whole-disk image has no ESP, unless told to ignore bootloader failures', async () => {
    const partx = 'NR START SECTORS SIZE TYPE UUID SCHEME\n1 2048 204800 104857600 0fc63daf-8483-4772-8e79-3d69d8477de4 5e3c11ae-8712-4fda-a804-73e9684a73d0 gpt\n';
    const { ctx } = setup({ uefi: true, espFiles: {}, partx });
    const error = await installBootloader(ctx, wholeDiskUefi).catch((e: unknown) => e);
    expect(isIngotError(error, 'INGOT_DEVICE_NOT_FOUND')).toBe(true);
    expect((error as Error).message).toMatch(/no EFI system partition on \/dev\/vda/);
    expect(await installBootloader(ctx, { ...wholeDiskUefi, ignoreBootloaderFailure: true })).toBeNull();
  });

  it('leaves NVRAM alone when the ramdisk did not boot in UEFI: a whole-disk image needs nothing more', async () => {
    const { system, ctx } = setup({ uefi: false, espFiles: {} });
    expect(await installBootloader(ctx, wholeDiskUefi)).toBeNull();
    expect(system.calls.some((argv) => argv[0] === 'efibootmgr' || argv[0] === 'mount')).toBe(false);
  });
});

describe('install_bootloader, GRUB for a UEFI partition image', () => {
  // The device test (test/device/bootloader.test.ts) runs this for real where the kernel can mount vfat;
  // here the order of mounts and the chroot argv are pinned down, ending with every mount undone.
  it('mounts root, binds /dev /proc /sys, mounts the ESP at /boot/efi, runs the image\'s grub-install and grub-mkconfig, then unmounts in reverse', async () => {
    const ROOT = '/tmp/ingot-mnt.Xy12ab';
    const { system, ctx } = setup({
      uefi: false,
      espFiles: { 'usr/sbin/grub-install': '' },
      extra: [
        { argv: ['mount', '/dev/vda2', ROOT] },
        { argv: ['mount', '-o', 'bind', /^\/(dev|proc|sys)$/, /^\/tmp\/ingot-mnt\.Xy12ab\/(dev|proc|sys)$/] },
        { argv: ['mkdir', '-p', `${ROOT}/boot/efi`] },
        { argv: ['mount', '-t', 'vfat', '/dev/vda1', `${ROOT}/boot/efi`] },
        { argv: ['umount', /^\/tmp\/ingot-mnt\.Xy12ab\/.+$/] },
        { argv: ['chroot', ROOT, 'grub-install', '--target=x86_64-efi', '--efi-directory=/boot/efi', '--removable', '--no-nvram'], stdout: 'Installing for x86_64-efi platform.\nInstallation finished. No error reported.\n' },
        { argv: ['chroot', ROOT, 'grub-mkconfig', '-o', '/boot/grub/grub.cfg'] },
      ],
    });
    const params = parseInstallBootloaderParams({ root_uuid: '4f329967-6533-4545-9b30-892992975ed4', efi_system_part_uuid: '4216-BE2B', target_boot_mode: 'uefi' });
    expect(await installBootloader(ctx, params)).toBeNull();
    const acting = system.calls.filter((argv) => ['mount', 'umount', 'chroot', 'mkdir', 'rmdir'].includes(argv[0]!));
    expect(acting).toEqual([
      ['mount', '/dev/vda2', ROOT],
      ['mount', '-o', 'bind', '/dev', `${ROOT}/dev`],
      ['mount', '-o', 'bind', '/proc', `${ROOT}/proc`],
      ['mount', '-o', 'bind', '/sys', `${ROOT}/sys`],
      ['mkdir', '-p', `${ROOT}/boot/efi`],
      ['mount', '-t', 'vfat', '/dev/vda1', `${ROOT}/boot/efi`],
      ['chroot', ROOT, 'grub-install', '--target=x86_64-efi', '--efi-directory=/boot/efi', '--removable', '--no-nvram'],
      ['chroot', ROOT, 'grub-mkconfig', '-o', '/boot/grub/grub.cfg'],
      ['umount', `${ROOT}/boot/efi`],
      ['umount', `${ROOT}/sys`],
      ['umount', `${ROOT}/proc`],
      ['umount', `${ROOT}/dev`],
      ['umount', ROOT],
      ['rmdir', ROOT],
    ]);
    // Not booted in UEFI here: NVRAM is left alone.
    expect(system.calls.some((argv) => argv[0] === 'efibootmgr')).toBe(false);
  });
});

describe('install_bootloader parameters and BOOT.CSV', () => {
  it('defaults target_boot_mode to bios as IPA does, and refuses anything but bios or uefi with a 400', () => {
    expect(parseInstallBootloaderParams({ root_uuid: 'abc' })).toEqual({ rootUuid: 'abc', efiSystemPartUuid: null, prepBootPartUuid: null, targetBootMode: 'bios', ignoreBootloaderFailure: null });
    expect(refusal(() => parseInstallBootloaderParams({ target_boot_mode: 'legacy' })).status).toBe(400);
    expect(refusal(() => parseInstallBootloaderParams({ ignore_bootloader_failure: 'maybe' })).message).toMatch(/ignore_bootloader_failure must be a boolean/);
  });

  it('reads shim\'s CSV lines: loader, label, options, description', () => {
    expect(parseBootCsv(textOfBootCsv('\uFFFD\uFFFDs\u0000h\u0000i\u0000m\u0000.\u0000e\u0000f\u0000i\u0000,\u0000x\u0000\r\u0000\n\u0000'))).toEqual([{ loader: 'shim.efi', label: 'x' }]);
    expect(parseBootCsv('shimx64.efi,redhat,,This is the boot entry for Red Hat\n\n')).toEqual([{ loader: 'shimx64.efi', label: 'redhat' }]);
  });
});

describe('install_bootloader parameters on hostile values (fuzz finding)', () => {
  it('refuses a parameter holding a deep list or a BigInt with a 400 naming it, not a RangeError or TypeError', () => {
    const deep = JSON.parse(`${'['.repeat(20_000)}"x"${']'.repeat(20_000)}`) as unknown;
    expect(() => parseInstallBootloaderParams({ ignore_bootloader_failure: deep })).toThrow(/ignore_bootloader_failure must be a boolean, got a list of 1/);
    expect(() => parseInstallBootloaderParams({ root_uuid: [0n] })).toThrow(/root_uuid must be a string or null, got a list of 1/);
    expect(() => parseInstallBootloaderParams({ target_boot_mode: deep })).toThrow(/target_boot_mode must be bios or uefi/);
  });
});
