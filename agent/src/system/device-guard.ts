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
}

/** Device nodes that are never a disk and that tools commonly receive. */
const harmlessDevices = new Set(['/dev/null', '/dev/zero', '/dev/urandom', '/dev/random', '/dev/stdin', '/dev/stdout', '/dev/stderr']);

export function createDeviceGuard(options: { mode: 'ramdisk' } | { mode: 'sandbox'; disks: readonly string[] }): DeviceGuard {
  const disks = options.mode === 'sandbox' ? [...options.disks] : [];
  const allows = (path: string): boolean => {
    if (options.mode === 'ramdisk' || harmlessDevices.has(path)) return true;
    return disks.some((disk) => path === disk || isPartitionOf(path, disk));
  };
  return {
    mode: options.mode,
    disks,
    allows,
    check(path, action) {
      if (!allows(path)) {
        throw new IngotError('INGOT_DEVICE_NOT_ALLOWED', {
          details: `refusing to ${action} ${path}: outside its ramdisk this agent only touches the disks it was given (${disks.join(', ') || 'none'}); pass it with --disk if it is meant to be used`,
        });
      }
    },
  };
}

/** `/dev/loop3p1` of `/dev/loop3`, `/dev/sda1` of `/dev/sda`, `/dev/nvme0n1p2` of `/dev/nvme0n1`. */
export function isPartitionOf(path: string, disk: string): boolean {
  if (!disk.startsWith('/dev/') || !path.startsWith(disk)) return false;
  const rest = path.slice(disk.length);
  return /\d$/.test(disk) ? /^p\d+$/.test(rest) : /^\d+$/.test(rest);
}

/** The argv elements that name a device node the guard must approve. */
export function devicePathsIn(argv: readonly string[]): string[] {
  return argv.flatMap((arg) => {
    const value = arg.includes('=') && !arg.startsWith('/') ? arg.slice(arg.indexOf('=') + 1) : arg;
    return value.startsWith('/dev/') && !value.startsWith('/dev/disk/by-') ? [value] : [];
  });
}
