/**
 * Builds a whole-disk image the way an image pipeline would, from Debian's
 * own tools: a sparse file with a GPT (sgdisk), one ext4 partition populated
 * from a directory (mkfs.ext4 -d), then compressed with the zstd CLI. The
 * digests are what a conductor needs: the compressed file's as os_hash_value
 * (the agent verifies the bytes as served), the raw image's to check the disk.
 *
 * Every stage reports progress (a 2 GiB build takes many seconds) and stops
 * at the signal, killing the tool it runs; the caller removes `dir`.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CommandProgress } from '@ingot/protocol';

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
  /** Each stage's progress: `stage` names it (filling the content, mkfs.ext4 -d, zstd -3), done/total in bytes. */
  onProgress?: (progress: CommandProgress) => void;
  /** Stops the build (the running tool is killed) and rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** sha256 of a file's first `length` bytes (all of it by default), streamed. */
export async function sha256OfFile(path: string, length?: number): Promise<string> {
  const hash = createHash('sha256');
  const stream = createReadStream(path, { highWaterMark: 4 * MiB, ...(length === undefined ? {} : { start: 0, end: length - 1 }) });
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The files of the filesystem: a few small ones, random data in 8 MiB files, base64 text in 16 MiB files. */
function plannedFiles(randomMiB: number, textMiB: number): Array<{ path: string; bytes: number; make: () => Buffer | string }> {
  const files: Array<{ path: string; bytes: number; make: () => Buffer | string }> = [];
  const text = (path: string, value: string) => files.push({ path, bytes: Buffer.byteLength(value), make: () => value });
  text('etc/hostname', 'ingot-demo\n');
  text('etc/os-release', 'PRETTY_NAME="Ingot demo image"\nNAME="Ingot demo"\nID=ingot-demo\n');
  text('README.txt', `Written by Ingot's demo on ${new Date().toISOString()}.\nIf you can read this on the deployed disk, the image arrived intact.\n`);
  // Incompressible data, so the served (compressed) size is far from trivial.
  for (let i = 0; i < Math.ceil(randomMiB / 8); i++) {
    const bytes = Math.min(8, randomMiB - i * 8) * MiB;
    files.push({ path: `data/random-${i}.bin`, bytes, make: () => randomBytes(bytes) });
  }
  // Text that compresses to about three quarters, as logs and documents do.
  for (let i = 0; i < Math.ceil(textMiB / 16); i++) {
    const raw = Math.min(16, textMiB - i * 16) * MiB * 0.75;
    files.push({ path: `var/log/demo-${i}.log`, bytes: Math.ceil(raw / 3) * 4, make: () => randomBytes(raw).toString('base64') });
  }
  return files;
}

async function populate(root: string, options: DemoImageOptions, randomMiB: number, textMiB: number): Promise<number> {
  const files = plannedFiles(randomMiB, textMiB);
  const total = files.reduce((sum, file) => sum + file.bytes, 0);
  let done = 0;
  for (const file of files) {
    options.signal?.throwIfAborted();
    await mkdir(join(root, file.path, '..'), { recursive: true });
    await writeFile(join(root, file.path), file.make(), { signal: options.signal });
    done += file.bytes;
    options.onProgress?.({ stage: 'filling the content', done, total, unit: 'bytes' });
  }
  return total;
}

/** Runs a tool to its end; its stderr's last lines name a failure. Aborting kills it. */
async function run(command: string, args: string[], signal: AbortSignal | undefined): Promise<void> {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], signal, env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` } });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-2000); });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, killedBy) => {
      if (signal?.aborted) reject(signal.reason);
      else if (code === 0) resolve();
      else reject(new Error(`${command} ${killedBy ? `was killed by ${killedBy}` : `exited with ${code}`}: ${stderr.trim().split('\n').slice(-3).join(' ') || 'no message'}`));
    });
  });
}

/** mkfs.ext4 -d gives no progress of its own: the bytes it has written so far are the image's allocated blocks. */
async function makeFilesystem(rawPath: string, rootfs: string, label: string, sizeMiB: number, options: DemoImageOptions): Promise<void> {
  const sample = async () => {
    const { blocks } = await stat(rawPath);
    options.onProgress?.({ stage: 'mkfs.ext4 -d', done: blocks * 512, unit: 'bytes' });
  };
  const timer = setInterval(() => { sample().catch(() => undefined); }, 250);
  try {
    // Partition 1 spans 1 MiB to the backup GPT (33 sectors at the end): leave the last MiB to it.
    await run('mkfs.ext4', ['-q', '-F', '-L', label, '-d', rootfs, '-E', `offset=${MiB}`, rawPath, `${(sizeMiB - 2) * 1024}k`], options.signal);
    await sample();
  } finally {
    clearInterval(timer);
  }
}

/** zstd -3 from stdin: the raw image is read here, so its bytes give the progress and its digest on the way. */
async function compress(rawPath: string, zstPath: string, rawBytes: number, options: DemoImageOptions): Promise<{ rawSha256: string; zstSha256: string }> {
  const rawHash = createHash('sha256');
  const zstHash = createHash('sha256');
  let done = 0;
  let reported = 0;
  const zstd = spawn('zstd', ['-q', '-T0', '-3', '-c'], { stdio: ['pipe', 'pipe', 'pipe'], signal: options.signal });
  let stderr = '';
  zstd.stderr.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-2000); });
  const exited = new Promise<void>((resolve, reject) => {
    zstd.once('error', reject);
    zstd.once('close', (code) => (code === 0 ? resolve() : reject(options.signal?.aborted ? options.signal.reason : new Error(`zstd exited with ${code}: ${stderr.trim() || 'no message'}`))));
  });
  exited.catch(() => undefined);
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      rawHash.update(chunk);
      done += chunk.length;
      if (done - reported >= 16 * MiB || done === rawBytes) {
        reported = done;
        options.onProgress?.({ stage: 'zstd -3', done, total: rawBytes, unit: 'bytes' });
      }
      callback(null, chunk);
    },
  });
  const hashed = new Transform({ transform(chunk: Buffer, _encoding, callback) { zstHash.update(chunk); callback(null, chunk); } });
  await Promise.all([
    pipeline(createReadStream(rawPath, { highWaterMark: 4 * MiB }), counted, zstd.stdin, { signal: options.signal }),
    pipeline(zstd.stdout, hashed, createWriteStream(zstPath), { signal: options.signal }),
    exited,
  ]);
  return { rawSha256: rawHash.digest('hex'), zstSha256: zstHash.digest('hex') };
}

/** Builds the image in `dir`; needs sgdisk, mkfs.ext4 (e2fsprogs ≥ 1.43 for -d) and zstd on PATH. */
export async function createDemoImage(options: DemoImageOptions): Promise<DemoImage> {
  const started = Date.now();
  const sizeMiB = options.sizeMiB ?? 512;
  const label = 'ingot-root';
  const rootfs = join(options.dir, 'rootfs');
  await mkdir(rootfs, { recursive: true });
  const contentBytes = await populate(rootfs, options, options.randomMiB ?? Math.floor(sizeMiB / 8), options.textMiB ?? Math.floor(sizeMiB / 16));

  const rawPath = join(options.dir, 'disk.img');
  await (await open(rawPath, 'w')).close();
  await truncate(rawPath, sizeMiB * MiB);
  await run('sgdisk', ['-n', '1:2048:0', '-t', '1:8300', '-c', `1:${label}`, rawPath], options.signal);
  await makeFilesystem(rawPath, rootfs, label, sizeMiB, options);
  const zstPath = `${rawPath}.zst`;
  const { rawSha256, zstSha256 } = await compress(rawPath, zstPath, sizeMiB * MiB, options);
  return {
    rawPath, zstPath, rawBytes: (await stat(rawPath)).size, zstBytes: (await stat(zstPath)).size, rawSha256, zstSha256,
    label, contentBytes, durationMs: Date.now() - started,
  };
}
