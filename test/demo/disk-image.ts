/**
 * Builds a whole-disk image the way an image pipeline would, from Debian's
 * own tools: a sparse file with a GPT (sgdisk), one ext4 partition populated
 * from a directory (mkfs.ext4 -d), then compressed with the zstd CLI. The
 * digests are what a conductor needs: the compressed file's as os_hash_value
 * (the agent verifies the bytes as served), the raw image's to check the disk.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, statSync, truncateSync, writeFileSync, closeSync, openSync } from 'node:fs';
import { join } from 'node:path';

const MiB = 1024 * 1024;

export interface DemoImage {
  /** The raw GPT disk image. */
  rawPath: string;
  /** The same, zstd-compressed: what is served. */
  zstPath: string;
  rawBytes: number;
  zstBytes: number;
  rawSha256: string;
  zstSha256: string;
  /** Label of the ext4 filesystem in partition 1. */
  label: string;
  /** Bytes of files put into the filesystem. */
  contentBytes: number;
  durationMs: number;
}

export interface DemoImageOptions {
  dir: string;
  /** Size of the raw image. Default 512. */
  sizeMiB?: number;
  /** Incompressible bytes among the files (random data). Default an eighth of the image. */
  randomMiB?: number;
  /** Base64 text among the files (compresses to ~75%). Default a sixteenth of the image. */
  textMiB?: number;
}

/** sha256 of a file's first `length` bytes (all of it by default), streamed. */
export async function sha256OfFile(path: string, length?: number): Promise<string> {
  const hash = createHash('sha256');
  const stream = createReadStream(path, { highWaterMark: 4 * MiB, ...(length === undefined ? {} : { start: 0, end: length - 1 }) });
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function populate(root: string, randomMiB: number, textMiB: number): number {
  let bytes = 0;
  const write = (path: string, data: Buffer | string) => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), data);
    bytes += Buffer.byteLength(data);
  };
  write('etc/hostname', 'ingot-demo\n');
  write('etc/os-release', 'PRETTY_NAME="Ingot demo image"\nNAME="Ingot demo"\nID=ingot-demo\n');
  write('README.txt', `Written by Ingot's demo on ${new Date().toISOString()}.\nIf you can read this on the deployed disk, the image arrived intact.\n`);
  // Incompressible data in 8 MiB files, so the served (compressed) size is far from trivial.
  for (let i = 0; i < Math.ceil(randomMiB / 8); i++) write(`data/random-${i}.bin`, randomBytes(Math.min(8, randomMiB - i * 8) * MiB));
  // Text that compresses to about three quarters, as logs and documents do.
  for (let i = 0; i < Math.ceil(textMiB / 16); i++) write(`var/log/demo-${i}.log`, randomBytes(Math.min(16, textMiB - i * 16) * MiB * 0.75).toString('base64'));
  return bytes;
}

/** Builds the image in `dir`; needs sgdisk, mkfs.ext4 (e2fsprogs ≥ 1.43 for -d) and zstd on PATH. */
export async function createDemoImage(options: DemoImageOptions): Promise<DemoImage> {
  const started = Date.now();
  const sizeMiB = options.sizeMiB ?? 512;
  const label = 'ingot-root';
  const rootfs = join(options.dir, 'rootfs');
  mkdirSync(rootfs, { recursive: true });
  const contentBytes = populate(rootfs, options.randomMiB ?? Math.floor(sizeMiB / 8), options.textMiB ?? Math.floor(sizeMiB / 16));

  const rawPath = join(options.dir, 'disk.img');
  closeSync(openSync(rawPath, 'w'));
  truncateSync(rawPath, sizeMiB * MiB);
  execFileSync('sgdisk', ['-n', '1:2048:0', '-t', '1:8300', '-c', `1:${label}`, rawPath], { stdio: 'ignore' });
  // Partition 1 spans 1 MiB to the backup GPT (33 sectors at the end): leave the last MiB to it.
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', label, '-d', rootfs, '-E', `offset=${MiB}`, rawPath, `${(sizeMiB - 2) * 1024}k`], { stdio: ['ignore', 'ignore', 'pipe'] });
  const zstPath = `${rawPath}.zst`;
  execFileSync('zstd', ['-q', '-f', '-T0', '-3', rawPath, '-o', zstPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  const [rawSha256, zstSha256] = await Promise.all([sha256OfFile(rawPath), sha256OfFile(zstPath)]);
  return {
    rawPath, zstPath, rawBytes: statSync(rawPath).size, zstBytes: statSync(zstPath).size, rawSha256, zstSha256,
    label, contentBytes, durationMs: Date.now() - started,
  };
}
