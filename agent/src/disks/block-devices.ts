import type { DeviceGuard } from '../system/device-guard.ts';

/** A disk the agent may act on: a block device, or (outside the ramdisk) a disk file it was given. */
export interface BlockDevice {
  /** `/dev/<kname>`, or the path of a disk file. */
  name: string;
  /** lsblk TYPE: disk, loop, raid1, md, mpath... or `file` for a disk file. */
  type: string;
  size: number;
  logicalSectorSize: number;
  physicalSectorSize: number;
  rotational: boolean;
  readOnly: boolean;
  model: string | null;
  vendor: string | null;
  serial: string | null;
  wwn: string | null;
  tran: string | null;
  hctl: string | null;
  byPath: string | null;
}

/** A partition found in a disk's partition table. */
export interface Partition {
  /** 1-based partition number. */
  number: number;
  /** Byte offset of the partition on its disk. */
  start: number;
  size: number;
  /** The partition's device node (`/dev/sda1`), or null for a partition inside a disk file. */
  node: string | null;
}

export interface BlockDevices {
  readonly guard: DeviceGuard;
  /** The disks the agent may act on, in lsblk order (sandbox: the order given). */
  listDisks(): Promise<BlockDevice[]>;
  /** The partitions of a disk, in table order. */
  listPartitions(disk: BlockDevice): Promise<Partition[]>;
}
