import type { BlockDevice, BlockDevices } from '../disks/block-devices.ts';
import type { DiskInfo } from './inventory.ts';

/**
 * A block device in IPA's `disks[]` shape (6.2). lsblk's WWN column already
 * prefers udev's ID_WWN_WITH_EXTENSION, so it stands for `wwn_with_extension`
 * too; the vendor extension alone is not known from lsblk and stays null.
 */
export function toDiskInfo(device: BlockDevice): DiskInfo {
  return {
    name: device.name,
    model: device.model,
    size: device.size,
    rotational: device.rotational,
    wwn: device.wwn,
    serial: device.serial,
    vendor: device.vendor,
    wwn_with_extension: device.wwn,
    wwn_vendor_extension: null,
    hctl: device.hctl,
    by_path: device.byPath,
    logical_sectors: device.logicalSectorSize,
    physical_sectors: device.physicalSectorSize,
    tran: device.tran,
  };
}

/**
 * The disks of the inventory, exactly those `devices` lists (never invented),
 * minus zero-size ones, which IPA leaves out (6.2: empty card readers, absent media).
 */
export async function readDiskInfos(devices: Pick<BlockDevices, 'listDisks'>): Promise<DiskInfo[]> {
  const disks = await devices.listDisks();
  return disks.filter((disk) => disk.size > 0).map(toDiskInfo);
}
