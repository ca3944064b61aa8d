import { IngotError } from '@ingot/protocol';
import type { DeviceGuard } from '../system/device-guard.ts';
import type { System } from '../system/system.ts';
import { flattenLsblk, lsblkArgv, parseLsblk, type LsblkDevice } from '../tools/lsblk.ts';
import { isNoPartitionTable, parsePartx, partxArgv } from '../tools/partx.ts';
import type { BlockDevice, BlockDevices, Partition } from './block-devices.ts';

export interface BlockDevicesDeps {
  system: System;
  guard: DeviceGuard;
}

/** A disk file has no hardware behind it: 512-byte sectors, as sgdisk and libblkid assume for files. */
const FILE_SECTOR_SIZE = 512;

/**
 * The disks the agent may act on. In the ramdisk: what lsblk sees, filtered as
 * IPA's inventory filters it (6.2). Outside it: exactly the disks the guard
 * was given, in that order, whether block devices or plain disk files.
 */
export function createBlockDevices({ system, guard }: BlockDevicesDeps): BlockDevices {
  const readLsblk = async (paths: readonly string[] = []) => parseLsblk((await system.run(lsblkArgv(paths))).stdout);

  const describeGivenDisk = async (path: string): Promise<BlockDevice> => {
    if (!(await system.exists(path))) {
      throw new IngotError('INGOT_DEVICE_NOT_FOUND', { details: `disk ${path} given to the agent does not exist` });
    }
    const info = await system.stat(path);
    if (info.isFile) return describeDiskFile(path, info.size);
    if (!info.isBlockDevice) throw new IngotError('INGOT_DEVICE_NOT_FOUND', { details: `${path} is neither a block device nor a disk file` });
    const [device] = await readLsblk([path]);
    if (!device) throw new IngotError('INGOT_DEVICE_NOT_FOUND', { details: `lsblk does not know ${path}` });
    // Keep the name the guard was given: it may be a path lsblk spells differently.
    return { ...toBlockDevice(device), name: path };
  };

  return {
    guard,

    async listDisks() {
      if (guard.mode === 'sandbox') {
        const disks: BlockDevice[] = [];
        for (const path of guard.disks) disks.push(await describeGivenDisk(path));
        return disks;
      }
      const disks = selectRamdiskDisks(await readLsblk()).map(toBlockDevice);
      for (const disk of disks) if (disk.serial === null) disk.serial = await sysfsSerial(system, disk.name);
      return disks;
    },

    async listPartitions(disk) {
      guard.check(disk.name, 'list partitions of');
      const table = await readPartitionTable(system, disk.name);
      if (disk.type === 'file') return table.map((p) => ({ number: p.number, start: p.start, size: p.size, node: null }));
      const [device] = await readLsblk([disk.name]);
      return mergePartitions(device?.children.filter((c) => c.type === 'part') ?? [], table);
    },
  };
}

/**
 * IPA's inventory rule (6.2): whole disks, RAID arrays and multipath devices;
 * never RAM disks, zram, floppies, optical drives, loop devices or anything of
 * size zero; and not the paths under a multipath device, which stands for them.
 */
export function selectRamdiskDisks(tree: readonly LsblkDevice[]): LsblkDevice[] {
  const underMultipath = new Set(flattenLsblk(tree).filter((d) => d.children.some((c) => c.type === 'mpath')).map((d) => d.kname));
  return flattenLsblk(tree).filter((d) =>
    (d.type === 'disk' || d.type === 'md' || d.type === 'mpath' || d.type.startsWith('raid'))
    && d.size > 0
    && !/^\/dev\/(ram|zram|fd|sr|loop)\d/.test(d.kname)
    && !underMultipath.has(d.kname));
}

export function toBlockDevice(device: LsblkDevice): BlockDevice {
  return {
    name: device.kname,
    type: device.type,
    size: device.size,
    logicalSectorSize: device.logicalSectorSize,
    physicalSectorSize: device.physicalSectorSize,
    rotational: device.rotational,
    readOnly: device.readOnly,
    model: device.model,
    vendor: device.vendor,
    serial: device.serial,
    wwn: device.wwn,
    tran: device.tran,
    hctl: device.hctl,
    byPath: null,
  };
}

/**
 * The serial the kernel knows when lsblk has none: lsblk reads serials from
 * udev's database, which the ramdisk has not, and virtio disks (QEMU's
 * `serial=`, cloud volumes' ids) expose theirs only in sysfs.
 */
async function sysfsSerial(system: System, device: string): Promise<string | null> {
  const path = `/sys/class/block/${device.slice(device.lastIndexOf('/') + 1)}/serial`;
  if (!(await system.exists(path))) return null;
  const serial = (await system.readText(path)).trim();
  return serial === '' ? null : serial;
}

function describeDiskFile(path: string, size: number): BlockDevice {
  return {
    name: path, type: 'file', size, logicalSectorSize: FILE_SECTOR_SIZE, physicalSectorSize: FILE_SECTOR_SIZE,
    rotational: false, readOnly: false, model: null, vendor: null, serial: null, wwn: null, tran: null, hctl: null, byPath: null,
  };
}

async function readPartitionTable(system: System, path: string) {
  const result = await system.run(partxArgv(path), { allowFailure: true });
  if (result.exitCode === 0) return parsePartx(result.stdout);
  if (isNoPartitionTable(result.exitCode, result.stderr)) return [];
  throw new IngotError('INGOT_COMMAND_FAILED', { details: `reading the partition table of ${path}: partx exited with ${result.exitCode}: ${result.stderr.trim()}` });
}

/**
 * The kernel's partitions (with nodes) and the on-disk table usually agree.
 * They differ when the kernel could not re-read a table written since (disk
 * busy, loop device without partition scanning): then the on-disk entries
 * still count, with no node, so that an erase also reaches what they hold.
 */
export function mergePartitions(kernel: readonly LsblkDevice[], table: readonly { number: number; start: number; size: number }[]): Partition[] {
  const byNumber = new Map<number, Partition>();
  for (const entry of table) byNumber.set(entry.number, { number: entry.number, start: entry.start, size: entry.size, node: null });
  for (const part of kernel) {
    const number = Number(/(\d+)$/.exec(part.kname)?.[1] ?? Number.NaN);
    const fromTable = byNumber.get(number);
    const start = part.start ?? fromTable?.start;
    if (!Number.isSafeInteger(number) || start === undefined) continue;
    byNumber.set(number, { number, start, size: part.size, node: part.kname });
  }
  return [...byNumber.values()].sort((a, b) => a.number - b.number);
}
