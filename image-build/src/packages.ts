/**
 * What the ramdisk's userspace is made of, as data: the Debian packages to
 * resolve, and which of their programs go into the image. Everything else in
 * /usr/bin comes from busybox applet links.
 */

/** The metapackage whose dependency names the current versioned kernel package. */
export const KERNEL_METAPACKAGE = 'linux-image-amd64';

/** Packages whose programs the ramdisk ships; their shared libraries follow. */
export const ROOT_PACKAGES: readonly string[] = [
  // Debian's dynamic busybox: busybox-static prefers its own applets inside `sh`
  // even when a real tool comes first in PATH (feasibility pitfall 2).
  'busybox',
  'util-linux', 'mount', 'fdisk', 'gdisk', 'e2fsprogs', 'dosfstools', 'mdadm', 'hdparm', 'nvme-cli', 'kexec-tools', 'psmisc',
  // busybox `ip` has no -j; the agent calls `ip -j route get` and `ip -j addr`.
  'iproute2',
  // qemu-img converts qcow2 images (only the program and its shared libraries ship, not the package).
  'qemu-utils',
  // image.install_bootloader: UEFI boot entries in NVRAM (ipa-protocol.md 9.9).
  'efibootmgr',
  // The node runtime needs these; they also come through the tools, but say it.
  'libc6', 'libstdc++6', 'libgcc-s1',
];

/**
 * Dependencies worth following from the roots: shared library packages only.
 * debconf, udev, perl and the like are maintainer-script baggage that a
 * ramdisk without dpkg never runs.
 */
export function isLibraryPackage(name: string): boolean {
  return name.startsWith('lib') || name === 'zlib1g';
}

/** Programs taken from the extracted packages (found by name in the sysroot's bin dirs). */
export const TOOL_PROGRAMS: readonly string[] = [
  // util-linux, mount, fdisk
  'lsblk', 'blkid', 'wipefs', 'partx', 'blockdev', 'losetup', 'findmnt', 'sfdisk', 'lscpu', 'mkswap',
  // busybox's blkdiscard has no --zeroout and its fallocate no --punch-hole: zero-block skipping needs these.
  'blkdiscard', 'fallocate',
  // gdisk
  'sgdisk',
  // e2fsprogs
  'mke2fs', 'mkfs.ext4', 'mkfs.ext3', 'e2fsck', 'fsck.ext4', 'resize2fs', 'tune2fs', 'dumpe2fs', 'e2label',
  // dosfstools
  'mkfs.fat', 'mkfs.vfat', 'fsck.fat', 'fatlabel',
  'mdadm', 'hdparm', 'nvme', 'kexec', 'fuser', 'ip',
  // qemu-utils
  'qemu-img',
  'efibootmgr',
];

/** Data files some of those programs read at run time. */
export const TOOL_DATA_FILES: readonly string[] = [
  '/etc/mke2fs.conf',
];
