/**
 * lsblk: the kernel's view of block devices and their partitions.
 *
 * The JSON output changed shape across util-linux releases: before 2.33 every
 * value is a string ("size": "67108864", "rota": "1"), later ones use numbers
 * and booleans. The parser accepts both, because a ramdisk may ship either.
 */

export const LSBLK_COLUMNS = [
  'NAME', 'KNAME', 'TYPE', 'SIZE', 'LOG-SEC', 'PHY-SEC', 'ROTA', 'RO', 'MODEL', 'VENDOR', 'SERIAL', 'WWN', 'TRAN',
  'HCTL', 'PKNAME', 'FSTYPE', 'PTTYPE', 'PARTTYPE', 'UUID', 'PTUUID', 'PARTUUID', 'START',
] as const;

/** The kernel reports partition starts in 512-byte units whatever the logical sector size (sysfs `start`). */
const KERNEL_SECTOR = 512;

export interface LsblkDevice {
  /** Path as lsblk names it (`/dev/mapper/x` for device-mapper). */
  name: string;
  /** Kernel path, `/dev/<kname>` (`/dev/dm-0`). */
  kname: string;
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
  parent: string | null;
  fstype: string | null;
  pttype: string | null;
  parttype: string | null;
  uuid: string | null;
  ptuuid: string | null;
  partuuid: string | null;
  /** Byte offset of a partition on its disk, or null for anything that is not a partition. */
  start: number | null;
  children: LsblkDevice[];
}

/** Lists the given devices (or every device when none is given), with their children, sizes in bytes and full paths. */
export function lsblkArgv(devices: readonly string[] = []): string[] {
  return ['lsblk', '--json', '--bytes', '--paths', '--output', LSBLK_COLUMNS.join(','), ...devices];
}

/** Parses `lsblk --json` output into a tree of devices. Throws on output that is not lsblk JSON. */
export function parseLsblk(stdout: string): LsblkDevice[] {
  const parsed: unknown = JSON.parse(stdout);
  const list = isRecord(parsed) ? parsed.blockdevices : undefined;
  if (!Array.isArray(list)) throw new Error('lsblk output has no "blockdevices" array');
  return list.map(toDevice);
}

/** Every device of a tree, depth first; a device reached twice (an md array under each of its members) appears once. */
export function flattenLsblk(devices: readonly LsblkDevice[]): LsblkDevice[] {
  const seen = new Map<string, LsblkDevice>();
  const visit = (device: LsblkDevice) => {
    if (!seen.has(device.kname)) seen.set(device.kname, device);
    device.children.forEach(visit);
  };
  devices.forEach(visit);
  return [...seen.values()];
}

function toDevice(value: unknown): LsblkDevice {
  if (!isRecord(value)) throw new Error('lsblk device entry is not an object');
  const name = text(value.name);
  if (!name) throw new Error('lsblk device entry has no name');
  const start = integer(value.start);
  return {
    name,
    kname: text(value.kname) ?? name,
    type: text(value.type) ?? 'unknown',
    size: integer(value.size) ?? 0,
    logicalSectorSize: integer(value['log-sec']) ?? 512,
    physicalSectorSize: integer(value['phy-sec']) ?? 512,
    rotational: flag(value.rota),
    readOnly: flag(value.ro),
    model: text(value.model),
    vendor: text(value.vendor),
    serial: text(value.serial),
    wwn: text(value.wwn),
    tran: text(value.tran),
    hctl: text(value.hctl),
    parent: text(value.pkname),
    fstype: text(value.fstype),
    pttype: text(value.pttype),
    parttype: text(value.parttype),
    uuid: text(value.uuid),
    ptuuid: text(value.ptuuid),
    partuuid: text(value.partuuid),
    start: start === null ? null : start * KERNEL_SECTOR,
    children: Array.isArray(value.children) ? value.children.map(toDevice) : [],
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Vendor and model strings come space-padded from SCSI INQUIRY data; an empty one means unknown. */
function text(value: unknown): string | null {
  if (typeof value !== 'string' && typeof value !== 'number') return null;
  const trimmed = String(value).trim();
  return trimmed === '' ? null : trimmed;
}

function integer(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : null;
  if (typeof value === 'string' && /^\d+$/.test(value.trim())) return Number(value.trim());
  return null;
}

function flag(value: unknown): boolean {
  return value === true || value === 1 || value === '1' || value === 'true';
}
