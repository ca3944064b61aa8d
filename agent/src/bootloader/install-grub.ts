import { IngotError } from '@ingot/protocol';
import type { Logger } from 'pino';
import type { BlockDevice } from '../disks/block-devices.ts';
import type { System } from '../system/system.ts';
import { CHROOT_PATH, grubInstallBiosArgv, grubInstallUefiArgv, grubMkconfigArgv, type GrubFlavour } from '../tools/grub.ts';
import type { BootMode } from '../disks/partition-layout.ts';
import type { FoundPartition } from './find-partitions.ts';
import { createMountStack } from './mounts.ts';

/** Where an image keeps its grub-install, in the order IPA looks (grub2 first, as RHEL names it). */
const INSTALL_LOCATIONS = ['usr/sbin', 'usr/bin', 'sbin', 'bin'];
/** grub-install writes a few MB; grub-mkconfig probes every disk. Generous for slow disks, bounded for hung ones. */
const GRUB_TIMEOUT_MS = 10 * 60_000;

export interface GrubTarget {
  disk: BlockDevice;
  root: FoundPartition;
  /** Mounted at /boot/efi for a UEFI install. */
  esp: FoundPartition | undefined;
  bootMode: BootMode;
  /** BIOS: the disks grub-install writes its boot code to; default the disk alone (every member disk for a RAID root). */
  biosDisks?: readonly string[];
}

/**
 * IPA's `_install_grub2` for partition images (9.9 step 3): mounts the
 * image's root, binds the ramdisk's /dev, /proc and /sys into it (and the ESP
 * at /boot/efi for UEFI), then runs the image's own grub-install (BIOS: onto
 * the disk's MBR and post-MBR gap or BIOS boot partition; UEFI: into the ESP)
 * and grub-mkconfig, all inside the chroot. Everything is unmounted after.
 */
export async function installGrub(system: System, target: GrubTarget, log: Logger): Promise<{ flavour: GrubFlavour }> {
  const mounts = createMountStack(system, log);
  try {
    const root = await mounts.mountDevice(target.root.node);
    const flavour = await findFlavour(system, root);
    if (!flavour) {
      throw new IngotError('INGOT_BOOTLOADER_FAILED', { details: `the image's root filesystem on ${target.root.node} has neither grub-install nor grub2-install (looked in /${INSTALL_LOCATIONS.join(', /')}); install GRUB in the image or use a whole-disk image` });
    }
    for (const dir of ['dev', 'proc', 'sys']) await mounts.bind(`/${dir}`, `${root}/${dir}`);
    const env = { PATH: CHROOT_PATH };
    let installs: string[][];
    if (target.bootMode === 'uefi') {
      if (!target.esp) throw new IngotError('INGOT_DEVICE_NOT_FOUND', { details: `no EFI system partition on ${target.disk.name} for a UEFI GRUB install; deploy the partition image in UEFI mode so the agent makes one` });
      await system.run(['mkdir', '-p', `${root}/boot/efi`]);
      await mounts.mountAt(target.esp.node, `${root}/boot/efi`, 'vfat');
      installs = [grubInstallUefiArgv(root, flavour, '/boot/efi')];
    } else {
      installs = (target.biosDisks ?? [target.disk.name]).map((disk) => grubInstallBiosArgv(root, flavour, disk));
    }
    for (const install of installs) {
      log.info({ argv: install, flavour }, 'installing GRUB from the image');
      await run(system, install, env, target);
    }
    await run(system, grubMkconfigArgv(root, flavour), env, target);
    return { flavour };
  } finally {
    await mounts.release();
  }
}

async function run(system: System, argv: string[], env: Record<string, string>, target: GrubTarget): Promise<void> {
  const result = await system.run(argv, { env, timeoutMs: GRUB_TIMEOUT_MS, allowFailure: true });
  if (result.exitCode !== 0) {
    const output = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-4).join(' | ');
    throw new IngotError('INGOT_BOOTLOADER_FAILED', { details: `${argv[2]} in the image on ${target.root.node} (disk ${target.disk.name}) exited with ${result.exitCode}: ${output}` });
  }
}

async function findFlavour(system: System, root: string): Promise<GrubFlavour | null> {
  for (const flavour of ['grub2', 'grub'] as const) {
    for (const dir of INSTALL_LOCATIONS) if (await system.exists(`${root}/${dir}/${flavour}-install`)) return flavour;
  }
  return null;
}
