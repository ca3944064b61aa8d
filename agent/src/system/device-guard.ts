import { IngotError } from '@ingot/protocol';

/**
 * Decides which block devices and disk files the agent may open or hand to a
 * tool. Inside its ramdisk the agent owns the machine (`any`); anywhere else it
 * may only see the disks it was explicitly given, and their partitions.
 */
export interface DeviceGuard {
  readonly mode: 'ramdisk' | 'sandbox';
  /** The explicitly given disks (sandbox mode); empty in ramdisk mode. */
  readonly disks: readonly string[];
  allows(path: string): boolean;
  /** Throws INGOT_DEVICE_NOT_ALLOWED unless `allows(path)`. */
  check(path: string, action: string): void;
  /**
   * The verdict the real System asks for before a path reaches the host, once
   * it has followed the path's symlinks (and those of the given disks, in
   * `diskAliases`): see `PathUse`. Throws INGOT_DEVICE_NOT_ALLOWED.
   */
  checkUse(use: PathUse, diskAliases: readonly string[]): void;
}

/** A path about to reach the host, as the real System found it. */
export interface PathUse {
  /** As the caller named it. */
  path: string;
  /** Where it leads once every symlink is followed (`path` itself when it leads nowhere else). */
  resolved: string;
  /** Whether `resolved` is a block device node, wherever it sits. */
  isBlockDevice: boolean;
  /**
   * - 'device': opened as a disk (the image target, a range zeroed or read):
   *   only a given disk or one of its partitions.
   * - 'write': a file written or created: never the host kernel's /proc or
   *   /sys, and a device only when it is a given disk.
   * - 'argument': named in a tool's argv: a device only when it is a given disk.
   */
  kind: 'device' | 'write' | 'argument';
  /** What the agent meant to do, for the refusal: "write an image to". */
  action: string;
}

/** Device nodes that are never a disk and that tools commonly receive. */
const harmlessDevices = new Set(['/dev/null', '/dev/zero', '/dev/urandom', '/dev/random', '/dev/stdin', '/dev/stdout', '/dev/stderr']);

/** The host kernel's own interfaces: a write there changes the machine the agent merely runs on. */
const kernelTrees = ['/proc', '/sys'];

export function createDeviceGuard(options: { mode: 'ramdisk' } | { mode: 'sandbox'; disks: readonly string[] }): DeviceGuard {
  const disks = options.mode === 'sandbox' ? [...options.disks] : [];
  const givenIn = (path: string, candidates: readonly string[]) => candidates.some((disk) => path === disk || isPartitionOf(path, disk));
  const allows = (path: string): boolean => options.mode === 'ramdisk' || harmlessDevices.has(path) || givenIn(path, disks);
  const refuse = (path: string, action: string, why: string): never => {
    throw new IngotError('INGOT_DEVICE_NOT_ALLOWED', { details: `refusing to ${action} ${path}: ${why}` });
  };
  const notGiven = `outside its ramdisk this agent only touches the disks it was given (${disks.join(', ') || 'none'}); pass it with --disk if it is meant to be used`;
  return {
    mode: options.mode,
    disks,
    allows,
    check(path, action) {
      if (!allows(path)) refuse(path, action, notGiven);
    },
    checkUse(use, diskAliases) {
      if (options.mode === 'ramdisk') return;
      const shown = use.resolved === use.path ? use.path : `${use.path} (${use.resolved})`;
      if (use.kind === 'write' && [use.path, use.resolved].some((path) => kernelTrees.some((tree) => isWithin(path, tree)))) {
        refuse(shown, use.action, 'outside its ramdisk this agent never writes the host kernel\'s /proc or /sys');
      }
      // Inside /dev, not /dev itself: a chroot binds the directory (bootloader/install-grub.ts).
      const isDevice = use.kind === 'device' || use.isBlockDevice || use.path.startsWith('/dev/') || use.resolved.startsWith('/dev/');
      if (!isDevice || harmlessDevices.has(use.path) || harmlessDevices.has(use.resolved)) return;
      // The resolved path is what the kernel opens; a given disk counts under each of its names.
      if (!givenIn(use.resolved, [...disks, ...diskAliases])) refuse(shown, use.action, notGiven);
    },
  };
}

/** `/dev/loop3p1` of `/dev/loop3`, `/dev/sda1` of `/dev/sda`, `/dev/nvme0n1p2` of `/dev/nvme0n1`. */
export function isPartitionOf(path: string, disk: string): boolean {
  if (!disk.startsWith('/dev/') || !path.startsWith(disk)) return false;
  const rest = path.slice(disk.length);
  return /\d$/.test(disk) ? /^p\d+$/.test(rest) : /^\d+$/.test(rest);
}

function isWithin(path: string, tree: string): boolean {
  return path === tree || path.startsWith(`${tree}/`);
}

/**
 * The argv elements that may name a file or device: every absolute path, also
 * after an = sign (`of=/dev/vda`). The real System follows each one's
 * symlinks, so `/dev/disk/by-id/...` or a link in /tmp is judged by the
 * device it leads to.
 */
export function pathsIn(argv: readonly string[]): string[] {
  return argv.flatMap((arg) => {
    const value = arg.includes('=') && !arg.startsWith('/') ? arg.slice(arg.indexOf('=') + 1) : arg;
    return value.startsWith('/') ? [value] : [];
  });
}
