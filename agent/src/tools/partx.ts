/**
 * partx: reads a partition table with libblkid, from any block device or
 * plain file. It is how the agent finds partitions inside a disk file (which
 * has no partition nodes) and partitions the kernel does not know about.
 * sfdisk would do too, but it lives in a separate Debian package (fdisk) that
 * a minimal ramdisk may lack; partx is part of util-linux itself.
 */

export const PARTX_COLUMNS = ['NR', 'START', 'SECTORS', 'SIZE', 'TYPE', 'UUID', 'SCHEME'] as const;

/** libblkid reports partition geometry in 512-byte units, whatever the device's logical sector size. */
const LIBBLKID_SECTOR = 512;

export interface TablePartition {
  number: number;
  /** Byte offset on the disk. */
  start: number;
  /** Bytes. */
  size: number;
  /** GPT type GUID or MBR type byte (`0x83`). */
  type: string | null;
  /** GPT partition GUID, or null (MBR). */
  uuid: string | null;
  /** `gpt`, `dos`... */
  scheme: string | null;
}

export function partxArgv(path: string): string[] {
  return ['partx', '--raw', '--bytes', '--output', PARTX_COLUMNS.join(','), path];
}

/** Deletes the kernel's partitions of a disk (BLKPG), for devices where a table re-read is refused. */
export function partxDeleteArgv(path: string): string[] {
  return ['partx', '--delete', path];
}

/**
 * partx exits 1 with "failed to read partition table" when libblkid finds no
 * table at all; for the agent that is an empty disk, not an error.
 */
export function isNoPartitionTable(exitCode: number, stderr: string): boolean {
  return exitCode === 1 && /failed to read partition table/i.test(stderr);
}

/** Parses `partx --raw` output: a header line, then one space-separated row per partition; empty fields stay empty. */
export function parsePartx(stdout: string): TablePartition[] {
  const lines = stdout.split('\n').filter((line) => line.trim() !== '');
  const header = lines.shift()?.trim().split(' ');
  if (!header) return [];
  const index = (column: string) => {
    const at = header.indexOf(column);
    if (at < 0) throw new Error(`partx output lacks the ${column} column`);
    return at;
  };
  const [nr, start, size, type, uuid, scheme] = ['NR', 'START', 'SIZE', 'TYPE', 'UUID', 'SCHEME'].map(index) as [number, number, number, number, number, number];
  return lines.map((line) => {
    const fields = line.split(' ').map(unescapeRaw);
    const field = (at: number) => fields[at] ?? '';
    const number = Number(field(nr));
    const startSector = Number(field(start));
    const bytes = Number(field(size));
    if (![number, startSector, bytes].every(Number.isSafeInteger)) throw new Error(`unexpected partx row: ${line}`);
    return {
      number,
      start: startSector * LIBBLKID_SECTOR,
      size: bytes,
      type: field(type) || null,
      uuid: field(uuid) || null,
      scheme: field(scheme) || null,
    };
  });
}

/** Raw output escapes unsafe characters as `\x20`. */
function unescapeRaw(value: string): string {
  return value.replace(/\\x([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * Tells the kernel about the partitions now in the table (BLKPG), adding,
 * resizing and removing as needed. Works where BLKRRPART is refused (a busy
 * disk) and on loop devices whose kernel did not scan the table itself.
 */
export function partxUpdateArgv(path: string): string[] {
  return ['partx', '--update', path];
}

export function partxAddArgv(path: string): string[] {
  return ['partx', '--add', path];
}
