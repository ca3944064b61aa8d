import { execFile } from 'node:child_process';
import { truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** sgdisk, mkfs.ext4, wipefs and blkid live in sbin, which a user's PATH may lack. */
const env = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`, LC_ALL: 'C' };

/** The first partition starts at sector 2048 (1 MiB), the usual alignment. */
export const PARTITION_OFFSET = 2048 * 512;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(command: string, args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, { env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string; message: string };
    if (typeof failed.code !== 'number') throw error; // not found, timeout
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? failed.message };
  }
}

async function mustRun(command: string, args: string[]): Promise<string> {
  const result = await run(command, args);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.code}: ${result.stderr.trim()}`);
  return result.stdout;
}

/** Which of the tools the disk checks need are missing here. */
export async function findMissingDiskTools(): Promise<string[]> {
  const tools = ['sgdisk', 'mkfs.ext4', 'wipefs', 'blkid'];
  const found = await Promise.all(tools.map((tool) => run('sh', ['-c', `command -v ${tool}`]).then((r) => r.code === 0)));
  return tools.filter((_, i) => !found[i]);
}

/**
 * A sparse disk image holding a GPT with one partition from 1 MiB to the
 * end and an ext4 file system inside that partition: what a previous
 * tenant leaves behind, and what erase_devices_metadata must remove.
 */
export async function createUsedDisk(file: string, sizeMiB: number): Promise<void> {
  await writeFile(file, '');
  await truncate(file, sizeMiB * 1024 * 1024);
  await mustRun('sgdisk', ['-n', '1:2048:0', file]);
  // Smaller than the partition (which loses 1 MiB ahead and the backup GPT behind).
  const fsKiB = (sizeMiB - 2) * 1024;
  await mustRun('mkfs.ext4', ['-q', '-F', '-E', `offset=${PARTITION_OFFSET}`, file, `${fsKiB}k`]);
}

export interface DiskSignatures {
  /** Partition rows of `sgdisk -p` (empty when there is no valid table). */
  partitions: string[];
  /** Signatures `wipefs --no-act` finds on the whole file (GPT, PMBR, file systems). */
  wipefs: string[];
  /** `blkid -p` of the whole file, or null when it finds nothing. */
  blkidWhole: string | null;
  /** `blkid -p -O <1 MiB>`: the file system inside the partition, or null. */
  blkidPartition: string | null;
}

/** Reads, without changing anything, what a disk image still carries. */
export async function readDiskSignatures(file: string): Promise<DiskSignatures> {
  const sgdisk = await run('sgdisk', ['-p', file]);
  const partitions = sgdisk.stdout.split('\n').filter((line) => /^\s+\d+\s+\d+\s+\d+\s/.test(line));
  const wipefs = await mustRun('wipefs', ['--no-act', '--noheadings', file]);
  const blkid = async (args: string[]): Promise<string | null> => {
    const result = await run('blkid', ['-p', ...args, file]);
    // 2: nothing found (blkid(8)).
    if (result.code === 2) return null;
    if (result.code !== 0) throw new Error(`blkid -p ${args.join(' ')} ${file} exited ${result.code}: ${result.stderr.trim()}`);
    return result.stdout.trim();
  };
  return {
    partitions,
    wipefs: wipefs.split('\n').filter((line) => line.trim() !== ''),
    blkidWhole: await blkid([]),
    blkidPartition: await blkid(['-O', String(PARTITION_OFFSET)]),
  };
}

/**
 * Two disks as a previous tenant leaves them (GPT, one partition, ext4
 * inside), `disk-a.img` and `disk-b.img` in `dir`, each checked to carry
 * what the erase will be judged against.
 */
export async function prepareUsedDisks(dir: string, sizeMiB: number): Promise<string[]> {
  const missing = await findMissingDiskTools();
  if (missing.length > 0) throw new Error(`missing disk tools: ${missing.join(', ')} (apt-get install -y gdisk e2fsprogs util-linux)`);
  const files: string[] = [];
  for (const name of ['disk-a.img', 'disk-b.img']) {
    const file = path.join(dir, name);
    await createUsedDisk(file, sizeMiB);
    const before = await readDiskSignatures(file);
    if (before.partitions.length !== 1 || !before.blkidPartition?.includes('TYPE="ext4"') || before.wipefs.length === 0) {
      throw new Error(`could not prepare ${file}: ${JSON.stringify(before)}`);
    }
    files.push(file);
  }
  return files;
}

/** What readDiskSignatures finds on a disk that erase_devices_metadata has cleaned. */
export const CLEAN_DISK: DiskSignatures = { partitions: [], wipefs: [], blkidWhole: null, blkidPartition: null };

/** Ironic's `root uuid` of a whole-disk image: the MBR disk signature at byte 440, as `0x%08x` (ipa-protocol.md 9.5, 9.8). */
export function mbrDiskSignature(bytes: Buffer): string {
  return `0x${bytes.readUInt32LE(440).toString(16).padStart(8, '0')}`;
}
