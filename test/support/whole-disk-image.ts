/**
 * A small whole-disk image as a cloud image ships: a GPT with one Linux
 * partition from 1 MiB to the end, an ext4 file system inside it holding a
 * marker file. The tests deploy it and then look for the marker on the disk
 * they wrote, from the host.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import zstd from 'zstd-napi';

const execFileAsync = promisify(execFile);

/** sgdisk, mkfs.ext4 and debugfs live in sbin, which a user's PATH may lack. */
const env = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`, LC_ALL: 'C' };

/** Where the image's only partition starts: sector 2048, the usual 1 MiB alignment. */
export const ROOT_PARTITION_OFFSET = 2048 * 512;
export const MARKER_PATH = '/ingot-marker';

export interface WholeDiskImage {
  /** The raw image file. */
  path: string;
  size: number;
  sha256: string;
  /** The text of MARKER_PATH inside the image's file system. */
  marker: string;
  /** The GPT's disk GUID as sgdisk prints it, to recognise the table on a written disk. */
  diskGuid: string;
}

export interface CompressedImage {
  path: string;
  size: number;
  sha256: string;
}

async function run(command: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { env, timeout: 60_000 });
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`${command} ${args.join(' ')} failed: ${stderr || (error as Error).message}`, { cause: error });
  }
}

export const sha256Of = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * Builds the image in `file` (`sizeMiB` large; at least 8 MiB, ext4's
 * floor for a useful file system). The marker carries a random tag, so a
 * disk left over from another run can never pass for this image.
 */
export async function createWholeDiskImage(file: string, sizeMiB: number): Promise<WholeDiskImage> {
  if (sizeMiB < 8) throw new Error(`a whole-disk image needs at least 8 MiB, not ${sizeMiB}`);
  const marker = `ingot whole-disk image ${createHash('sha256').update(`${file}${process.hrtime.bigint()}${Math.random()}`).digest('hex').slice(0, 16)}\n`;
  const content = `${file}.content`;
  await rm(content, { recursive: true, force: true });
  await mkdir(content, { recursive: true });
  await writeFile(path.join(content, MARKER_PATH.slice(1)), marker);

  await writeFile(file, '');
  await truncate(file, sizeMiB * 1024 * 1024);
  await run('sgdisk', ['-n', '1:2048:0', '-c', '1:ingot-root', file]);
  // Smaller than the partition, which loses 1 MiB ahead and the backup GPT (33 sectors) behind.
  await run('mkfs.ext4', ['-q', '-F', '-L', 'ingot-root', '-E', `offset=${ROOT_PARTITION_OFFSET}`, '-d', content, file, `${(sizeMiB - 2) * 1024}k`]);
  await rm(content, { recursive: true, force: true });

  const bytes = await readFile(file);
  const guid = /Disk identifier \(GUID\): (\S+)/.exec(await run('sgdisk', ['-p', file]))?.[1];
  if (!guid) throw new Error(`sgdisk -p ${file} printed no disk GUID`);
  return { path: file, size: bytes.length, sha256: sha256Of(bytes), marker, diskGuid: guid };
}

/** `image.path` (a whole-disk or a partition image) compressed with zstd (level 3) into `file`. */
export async function compressImageZstd(image: Pick<WholeDiskImage, 'path'>, file: string): Promise<CompressedImage> {
  const compressed = zstd.compress(await readFile(image.path), { compressionLevel: 3 });
  await writeFile(file, compressed);
  return { path: file, size: compressed.length, sha256: sha256Of(compressed) };
}

/**
 * SHA-256 of a GPT whole-disk image's first `length` bytes as they must read
 * after deployment, from the image file or the disk alike. The agent moves
 * the backup GPT of an image made for a smaller disk to the disk's end
 * (`sgdisk -e`, ipa-protocol.md 9.5), which rewrites exactly two sectors: the
 * protective MBR's size field and the primary GPT header. Both are left out
 * (bytes 440 to 1023: the MBR's partition records and LBA 1); the boot code,
 * the partition entries and every data byte are in. That the rewritten table
 * is valid is for `sgdisk --verify` to say. `offset`: where the image
 * starts in `path` (a RAID member's data area inside a disk file).
 */
export async function deployedImageDigest(path: string, length: number, offset = 0): Promise<string> {
  const hash = createHash('sha256');
  let read = 0;
  for await (const chunk of createReadStream(path, { start: offset, end: offset + length - 1, highWaterMark: 4 * 1024 * 1024 })) {
    const bytes = chunk as Buffer;
    const start = read;
    read += bytes.length;
    // Keep [0, 440) and [1024, length): cut what overlaps [440, 1024) out of this chunk.
    const cutFrom = Math.max(440 - start, 0);
    const cutTo = Math.min(1024 - start, bytes.length);
    if (cutFrom >= cutTo) hash.update(bytes);
    else {
      hash.update(bytes.subarray(0, cutFrom));
      hash.update(bytes.subarray(cutTo));
    }
  }
  if (read < length) throw new Error(`${path} holds ${read} bytes from offset ${offset}, fewer than the ${length} asked for`);
  return hash.digest('hex');
}

/**
 * What the host reads on a written disk: the GPT's disk GUID, and the marker
 * file from the ext4 file system at ROOT_PARTITION_OFFSET (null when absent).
 */
export async function readDeployedMarker(disk: string): Promise<{ diskGuid: string | null; marker: string | null }> {
  const printed = await run('sgdisk', ['-p', disk]).catch(() => '');
  // Without a table sgdisk invents one in memory, with a random GUID: no GUID then.
  const diskGuid = printed.includes('Creating new GPT entries') ? null : /Disk identifier \(GUID\): (\S+)/.exec(printed)?.[1] ?? null;
  // debugfs opens the file system at an offset through the unix I/O manager's `?offset=` option.
  const marker = await run('debugfs', ['-R', `cat ${MARKER_PATH}`, `${disk}?offset=${ROOT_PARTITION_OFFSET}`]).catch(() => null);
  return { diskGuid, marker: marker === '' ? null : marker };
}
