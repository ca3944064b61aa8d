import type { System } from './system/system.ts';

/** Written by image-build into the ramdisk; never present on an installed system. */
export const RAMDISK_MARKER = '/etc/ingot/ramdisk';

/**
 * The agent owns the machine's disks only inside its own ramdisk: the marker
 * file exists AND the root filesystem is the initramfs (rootfs, tmpfs or
 * ramfs). Anywhere else it runs in sandbox mode and sees only the disks it was
 * explicitly given.
 */
export async function detectRamdisk(system: System): Promise<boolean> {
  if (!(await system.exists(RAMDISK_MARKER))) return false;
  const mounts = await system.readText('/proc/mounts').catch(() => '');
  const root = mounts.split('\n').map((line) => line.split(' ')).find((fields) => fields[1] === '/');
  return root !== undefined && ['rootfs', 'tmpfs', 'ramfs'].includes(root[2] ?? '');
}
