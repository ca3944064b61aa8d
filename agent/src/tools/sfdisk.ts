/**
 * sfdisk (util-linux): writes msdos partition tables from a script on stdin.
 * The ramdisk ships it (fdisk package) and not parted, so msdos layouts are
 * written with it; the script counts in logical sectors.
 */

export interface MbrPartitionSpec {
  startSector: number;
  sizeSectors: number;
  /** The MBR type byte in hex, without 0x: `83` Linux, `82` swap, `c` FAT32 (LBA), `ef` EFI. */
  type: string;
  bootable: boolean;
}

export function sfdiskWriteArgv(path: string): string[] {
  return ['sfdisk', '--no-reread', '--no-tell-kernel', '--wipe', 'always', path];
}

/** Adds partitions after the existing ones, keeping the table (`--append`). */
export function sfdiskAppendArgv(path: string): string[] {
  return ['sfdisk', '--append', '--no-reread', '--no-tell-kernel', path];
}

/** The script of a new msdos table: every partition primary, as parted makes them for IPA (9.7). */
export function sfdiskScript(partitions: readonly MbrPartitionSpec[], options: { newTable: boolean }): string {
  const lines = options.newTable ? ['label: dos', ''] : [];
  for (const p of partitions) {
    lines.push(`start=${p.startSector}, size=${p.sizeSectors}, type=${p.type}${p.bootable ? ', bootable' : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Lists a disk's partition table as JSON. sfdisk's list mode opens the disk
 * read-only (util-linux 2.38 `list_disk` assigns the device with readonly
 * set) and tells the kernel nothing: the snapshot capture reads tables with it
 * because it must not change a byte of the disk.
 */
export function sfdiskJsonArgv(path: string): string[] {
  return ['sfdisk', '--json', path];
}

export interface SfdiskPartition {
  number: number;
  startBytes: number;
  sizeBytes: number;
  /** GPT type GUID, or the MBR type byte as `0x83`. */
  type: string | null;
  /** GPT partition GUID, or `<disk id>-<number>` for MBR (as blkid's PARTUUID). */
  uuid: string | null;
  label: string | null;
}

export interface SfdiskTable {
  label: 'gpt' | 'dos' | null;
  /** GPT disk GUID or MBR disk id (`0x5fbd175a`). */
  id: string | null;
  sectorSize: number;
  partitions: SfdiskPartition[];
}

/** sfdisk's complaint about a disk without any table (exit 1): an empty table, not a failure. */
export function isSfdiskNoTable(exitCode: number, stderr: string): boolean {
  return exitCode === 1 && /does not contain a recognized partition table/.test(stderr);
}

/**
 * Parses `sfdisk --json` (fixtures/sfdisk-json-*.json, captured from sfdisk
 * 2.38). Counts are in sectors of `sectorsize`; a partition's number is the
 * digits its node ends with (sfdisk prints no number field).
 */
export function parseSfdiskJson(stdout: string, fallbackSectorSize = 512): SfdiskTable {
  const parsed = JSON.parse(stdout) as { partitiontable?: Record<string, unknown> };
  const table = parsed.partitiontable;
  if (!table || typeof table !== 'object') throw new Error('sfdisk --json printed no partitiontable');
  const label = table.label === 'gpt' || table.label === 'dos' ? table.label : null;
  const sectorSize = typeof table.sectorsize === 'number' ? table.sectorsize : fallbackSectorSize;
  const id = typeof table.id === 'string' ? table.id : null;
  const entries = Array.isArray(table.partitions) ? table.partitions as Record<string, unknown>[] : [];
  const partitions = entries.map((entry) => {
    const number = Number(/(\d+)$/.exec(String(entry.node ?? ''))?.[1] ?? Number.NaN);
    if (!Number.isSafeInteger(number) || typeof entry.start !== 'number' || typeof entry.size !== 'number') {
      throw new Error(`sfdisk --json printed a partition without node, start or size: ${JSON.stringify(entry)}`);
    }
    const type = typeof entry.type === 'string' ? (label === 'dos' ? `0x${entry.type}` : entry.type) : null;
    const uuid = typeof entry.uuid === 'string' ? entry.uuid : label === 'dos' && id ? `${id.replace(/^0x/, '')}-${String(number).padStart(2, '0')}` : null;
    return { number, startBytes: entry.start * sectorSize, sizeBytes: entry.size * sectorSize, type, uuid, label: typeof entry.name === 'string' ? entry.name : null };
  });
  return { label, id, sectorSize, partitions };
}
