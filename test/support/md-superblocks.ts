/**
 * Reads md RAID superblocks from the host, on disk files a guest wrote: this
 * host's mdadm examines a file or a read-only loop device without any md
 * driver in its kernel (the CI kernel has none). A member partition is
 * attached read-only at its offset in the disk file (`losetup -r -o
 * --sizelimit`), examined and detached again, so nothing here can write to
 * what the test checks.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readPartitionTable, type DiskFilePartition } from './disk-file-reader.ts';

const execFileAsync = promisify(execFile);
/** mdadm and losetup live in sbin, which a user's PATH may lack. */
const env = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`, LC_ALL: 'C' };

export interface MdSuperblock {
  /** MD_LEVEL: `raid1`, `raid10`, `raid5`, ... */
  level: string;
  /** MD_DEVICES: the array's raid devices. */
  devices: number;
  /** MD_NAME: `homehost:name`, e.g. `any:root`. */
  name: string;
  /** MD_UUID: the array's, the same on every member. */
  uuid: string;
  /** The superblock's version: `1.2`, `1.0`, ... */
  metadata: string;
  /** Bytes from the member's start to the array's data (`Data Offset`; 0 when mdadm does not print one, as for 1.0). */
  dataOffset: number;
  /** State, Device Role, Array State and Resync Offset as mdadm prints them, for the report. */
  state: string;
  /** Every MD_* key of `--examine --export`. */
  exported: Record<string, string>;
}

/** What mdadm printed on a member, parsed; null when it found no superblock. */
export function parseMdExamine(exported: string, detailed: string): MdSuperblock | null {
  const keys: Record<string, string> = {};
  for (const line of exported.split('\n')) {
    const match = /^(MD_[A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) keys[match[1]!] = match[2]!;
  }
  if (!keys.MD_UUID) return null;
  const offset = /^\s*Data Offset : (\d+) sectors/m.exec(detailed);
  const state = [/^\s*State : (.*)$/m, /^\s*Device Role : (.*)$/m, /^\s*Array State : (\S*)/m, /^\s*Resync Offset : (.*)$/m]
    .map((pattern) => pattern.exec(detailed)?.[1]).filter(Boolean).join('; ');
  return {
    level: keys.MD_LEVEL ?? '', devices: Number(keys.MD_DEVICES ?? 'NaN'), name: keys.MD_NAME ?? '', uuid: keys.MD_UUID,
    // --examine --export leaves MD_METADATA empty (mdadm 4.2); the long form's Version line has it.
    metadata: keys.MD_METADATA || /^\s*Version : (\S+)/m.exec(detailed)?.[1] || '', dataOffset: offset ? Number(offset[1]) * 512 : 0, state, exported: keys,
  };
}

async function mdadm(args: string[]): Promise<{ stdout: string; code: number }> {
  try {
    const { stdout } = await execFileAsync('mdadm', args, { env, timeout: 30_000 });
    return { stdout, code: 0 };
  } catch (error) {
    const failure = error as { code?: unknown; stdout?: string; stderr?: string };
    // mdadm --examine exits 1 with "No md superblock detected" when there is none: that is an answer, not a failure.
    if (failure.code === 1 && /No md superblock detected|Unrecognised md component device/.test(failure.stderr ?? '')) return { stdout: '', code: 1 };
    throw new Error(`mdadm ${args.join(' ')} failed: ${failure.stderr?.trim() || (error as Error).message}`, { cause: error });
  }
}

/** The superblock mdadm finds on `source` (a disk file or a block device), or null. */
export async function examineMd(source: string): Promise<MdSuperblock | null> {
  const exported = await mdadm(['--examine', '--export', source]);
  if (exported.code !== 0) return null;
  return parseMdExamine(exported.stdout, (await mdadm(['--examine', source])).stdout);
}

/** Runs `use` with `file`'s bytes [offset, offset + size) as a read-only loop device, detached afterwards whatever happens. */
export async function withReadOnlyLoop<T>(file: string, offset: number, size: number, use: (device: string) => Promise<T>): Promise<T> {
  const { stdout } = await execFileAsync('losetup', ['-r', '-o', String(offset), '--sizelimit', String(size), '-f', '--show', file], { env, timeout: 30_000 });
  const device = stdout.trim();
  try {
    return await use(device);
  } finally {
    await execFileAsync('losetup', ['-d', device], { env, timeout: 30_000 }).catch((error: Error) => process.stderr.write(`losetup -d ${device} failed: ${error.message}\n`));
  }
}

/** The superblock in `file`'s byte range [offset, offset + size), examined on a read-only loop device. */
export function examineMdAt(file: string, offset: number, size: number): Promise<MdSuperblock | null> {
  return withReadOnlyLoop(file, offset, size, examineMd);
}

export interface ExaminedPartition {
  partition: DiskFilePartition;
  superblock: MdSuperblock | null;
}

/** Every partition of a disk file (none when it has no table), each examined for an md superblock. */
export async function examinePartitions(file: string): Promise<ExaminedPartition[]> {
  let partitions: DiskFilePartition[];
  try {
    partitions = readPartitionTable(file);
  } catch (error) {
    // sfdisk refuses a disk without a partition table; anything else is a real failure.
    if (/does not contain a recognized partition table/.test(String((error as { stderr?: unknown }).stderr ?? ''))) return [];
    throw error;
  }
  const examined: ExaminedPartition[] = [];
  for (const partition of partitions) examined.push({ partition, superblock: await examineMdAt(file, partition.start, partition.size) });
  return examined;
}
