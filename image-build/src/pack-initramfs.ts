import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { lstat, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { run } from './exec.ts';
import { COMPONENTS, componentOf, type Component } from './components.ts';
import type { ComponentSize } from './manifest.ts';
import { formatMiB } from './progress.ts';

export const COMPRESSION_LEVELS = { zstd19: 19, zstd3: 3 } as const;
export type Compression = keyof typeof COMPRESSION_LEVELS;

interface Entry {
  path: string;
  isDirectory: boolean;
  bytes: number;
}

async function walk(root: string, relative = ''): Promise<Entry[]> {
  const entries: Entry[] = [];
  for (const name of (await readdir(join(root, relative))).sort()) {
    const path = relative ? `${relative}/${name}` : name;
    const info = await lstat(join(root, path));
    entries.push({ path, isDirectory: info.isDirectory(), bytes: info.isFile() ? info.size : 0 });
    if (info.isDirectory()) entries.push(...(await walk(root, path)));
  }
  return entries;
}

/**
 * Packs the staging root as a reproducible initramfs: every mtime set to
 * SOURCE_DATE_EPOCH, a sorted file list, `cpio -o -H newc -R 0:0
 * --reproducible`, one zstd-compressed segment per component, concatenated
 * (the kernel unpacks concatenated compressed cpio archives in order).
 */
export async function packInitramfs(options: {
  staging: string;
  output: string;
  compression: Compression;
  sourceDateEpoch: number;
  note: (message: string) => void;
  /** Kills cpio and zstd when aborted (Ctrl-C). */
  signal?: AbortSignal;
}): Promise<Record<Component, ComponentSize>> {
  const { staging, output, compression, sourceDateEpoch, note, signal } = options;
  const entries = await walk(staging);
  // touch -h: symlinks keep their own fixed mtime too. One call for all paths.
  await run(['xargs', '-0', 'touch', '-h', '-d', `@${sourceDateEpoch}`], { cwd: staging, input: `${entries.map((entry) => entry.path).join('\0')}\0` });
  const sizes = Object.fromEntries(COMPONENTS.map((name) => [name, { files: 0, rawBytes: 0, compressedBytes: 0 }])) as Record<Component, ComponentSize>;
  const lists = new Map<Component, Entry[]>(COMPONENTS.map((name) => [name, []]));
  for (const entry of entries) {
    const component = componentOf(entry.path, entry.isDirectory);
    lists.get(component)!.push(entry);
    sizes[component].files += 1;
    sizes[component].rawBytes += entry.bytes;
  }
  await rm(output, { force: true });
  const out = await open(output, 'w');
  try {
    for (const component of COMPONENTS) {
      const list = lists.get(component)!;
      if (list.length === 0) continue;
      const before = (await out.stat()).size;
      const began = performance.now();
      await compressSegment(staging, list.map((entry) => entry.path), COMPRESSION_LEVELS[compression], out.fd, sizes[component].rawBytes, signal, (read, written) => {
        note(`compress ${component}: ${formatMiB(read)} of ${formatMiB(sizes[component].rawBytes)} read, ${formatMiB(written)} written, ${((performance.now() - began) / 1000).toFixed(0)} s`);
      });
      sizes[component].compressedBytes = (await out.stat()).size - before;
      note(`${component}: ${formatMiB(sizes[component].rawBytes)} -> ${formatMiB(sizes[component].compressedBytes)}`);
    }
  } finally {
    await out.close();
  }
  return sizes;
}

/** cpio | zstd for one segment, appended to fd; reports the bytes read and written every five seconds. */
async function compressSegment(cwd: string, paths: string[], level: number, fd: number, rawBytes: number, signal: AbortSignal | undefined, report: (read: number, written: number) => void): Promise<void> {
  signal?.throwIfAborted();
  const cpio = spawn('cpio', ['-o', '-H', 'newc', '-R', '0:0', '--reproducible', '--quiet'], { cwd, stdio: ['pipe', 'pipe', 'pipe'], signal });
  const zstd = spawn('zstd', [`-${level}`, '-T0', '-q', '-c'], { stdio: ['pipe', 'pipe', 'pipe'], signal });
  const file = createWriteStream('', { fd, autoClose: false });
  let done = 0;
  let written = 0;
  let errors = '';
  cpio.stderr.on('data', (chunk: Buffer) => { errors += chunk.toString(); });
  zstd.stderr.on('data', (chunk: Buffer) => { errors += chunk.toString(); });
  cpio.stdout.on('data', (chunk: Buffer) => { done += chunk.length; });
  zstd.stdout.on('data', (chunk: Buffer) => { written += chunk.length; });
  // A tool killed by the signal (or failing) closes its stdin: its exit status reports it, not an EPIPE event.
  cpio.stdin.on('error', () => {});
  zstd.stdin.on('error', () => {});
  cpio.stdout.pipe(zstd.stdin);
  const timer = rawBytes > 16 * 1024 * 1024 ? setInterval(() => report(done, written), 5000) : undefined;
  cpio.stdin.end(`${paths.join('\n')}\n`);
  try {
    const [[cpioCode], [zstdCode]] = await Promise.all([once(cpio, 'close'), once(zstd, 'close'), pipeline(zstd.stdout, file)]);
    if (cpioCode !== 0 || zstdCode !== 0) throw new Error(`cpio (exit ${cpioCode}) | zstd (exit ${zstdCode}) failed: ${errors.trim()}`);
  } finally {
    if (timer) clearInterval(timer);
  }
}
