/**
 * Reads what a deploy left on a disk, from the host and without mounting
 * anything: the host kernel may have no vfat driver, and reading needs no
 * loop device. The partition table comes from sfdisk, ext4 files from
 * debugfs, FAT files from mtools. `source` is a block device or a disk file;
 * `offset` is where the filesystem starts in it, in bytes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';

/** debugfs, sfdisk and blkid live in sbin, which a user's PATH may lack. */
const env = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`, LC_ALL: 'C' };

export interface DiskFilePartition {
  number: number;
  /** Bytes from the start of the disk. */
  start: number;
  size: number;
  /** GPT type GUID (upper case) or MBR type (`ef`). */
  type: string;
  /** The filesystem UUID blkid finds in it, if any. */
  fsUuid: string | null;
}

/** The GPT type of an EFI system partition. */
export const ESP_TYPE = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';

/** The partitions of a disk file or device, each probed for its filesystem UUID. */
export function readPartitionTable(source: string): DiskFilePartition[] {
  const { partitiontable: table } = JSON.parse(execFileSync('sfdisk', ['--json', source], { encoding: 'utf8', env })) as {
    partitiontable: { sectorsize?: number; partitions?: Array<{ node: string; start: number; size: number; type: string }> };
  };
  const sector = table.sectorsize ?? 512;
  return (table.partitions ?? []).map((entry) => {
    const start = entry.start * sector;
    return { number: Number(/(\d+)$/.exec(entry.node)![1]), start, size: entry.size * sector, type: entry.type.toUpperCase(), fsUuid: readFilesystemUuid(source, start) };
  });
}

function readFilesystemUuid(source: string, offset: number): string | null {
  try {
    return /^UUID=(.*)$/m.exec(execFileSync('blkid', ['-p', '-O', String(offset), '-o', 'export', source], { encoding: 'utf8', env }))?.[1] ?? null;
  } catch {
    return null; // blkid exits 2 when it finds nothing
  }
}

/** A file of an ext4 filesystem as text; throws, saying why, when it cannot be read. */
export function readExt4File(source: string, path: string, offset = 0): string {
  // debugfs opens the filesystem at an offset through the unix I/O manager's `?offset=` option.
  const device = offset ? `${source}?offset=${offset}` : source;
  const result = spawnSync('debugfs', ['-R', `cat ${path}`, device], { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
  // debugfs exits 0 even when the file or the filesystem is missing, and says so on stderr after its banner.
  const problems = (result.stderr ?? '').split('\n').filter((line) => line.trim() && !/^debugfs \d/.test(line));
  if (result.error || result.status !== 0 || problems.length > 0) {
    throw new Error(`cannot read ${path} in the ext4 filesystem of ${device}: ${problems.join(' | ') || result.error?.message || `debugfs exited with ${result.status}`}`);
  }
  return result.stdout;
}

const fatImage = (source: string, offset: number) => (offset ? `${source}@@${offset}` : source);

/** Every file under `dir` of a FAT filesystem, as mtools names them (`::/EFI/BOOT/BOOTX64.EFI`). */
export function listFatFiles(source: string, dir: string, offset = 0): string[] {
  return execFileSync('mdir', ['-/', '-b', '-i', fatImage(source, offset), `::${dir}`], { encoding: 'utf8', env }).split('\n').filter(Boolean);
}

export function readFatFile(source: string, path: string, offset = 0): Buffer {
  return execFileSync('mtype', ['-i', fatImage(source, offset), `::${path}`], { env, maxBuffer: 64 * 1024 * 1024 });
}

/** `length` bytes of `file` from `offset` (zeros past its end). */
export function readAt(file: string, offset: number, length: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const bytes = Buffer.alloc(length);
    readSync(fd, bytes, 0, length, offset);
    return bytes;
  } finally { closeSync(fd); }
}
