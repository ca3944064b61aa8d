import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './exec.ts';
import type { LockedDeb } from './lock-file.ts';
import { formatMiB } from './progress.ts';

/** The cache key of a .deb: name and version (':' of an epoch made file-safe). */
export function debFileName(deb: LockedDeb): string {
  return `${deb.name}_${deb.version.replaceAll(':', '%3a')}_${deb.architecture}.deb`;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/**
 * Makes sure every pinned .deb is in `<cache>/debs`, downloading the missing
 * ones with ONE `apt-get download name=version...`, and checks each against
 * the sha256 the lock recorded. Returns the paths, in the order given.
 */
export async function fetchDebs(debs: readonly LockedDeb[], cacheDir: string, note: (message: string) => void): Promise<string[]> {
  const dir = join(cacheDir, 'debs');
  await mkdir(dir, { recursive: true });
  const paths = debs.map((deb) => join(dir, debFileName(deb)));
  const missing: LockedDeb[] = [];
  for (const [index, deb] of debs.entries()) if (!(await exists(paths[index]!))) missing.push(deb);
  if (missing.length > 0) {
    const total = missing.reduce((sum, deb) => sum + deb.size, 0);
    note(`downloading ${missing.length} .deb(s), ${formatMiB(total)}`);
    const partial = join(dir, 'partial');
    await rm(partial, { recursive: true, force: true });
    await mkdir(partial, { recursive: true });
    await aptDownload(missing.map((deb) => `${deb.name}=${deb.version}`), partial, missing.length, note);
    const fetched = await readdir(partial);
    for (const deb of missing) {
      const prefix = `${deb.name}_`;
      const file = fetched.find((name) => name.startsWith(prefix) && name.endsWith('.deb'));
      if (!file) throw new Error(`apt-get download did not produce ${deb.name}=${deb.version}`);
      await rename(join(partial, file), join(dir, debFileName(deb)));
    }
    await rm(partial, { recursive: true, force: true });
  }
  for (const [index, deb] of debs.entries()) {
    const digest = await sha256File(paths[index]!);
    if (digest !== deb.sha256) {
      await rm(paths[index]!, { force: true });
      throw new Error(`${debFileName(deb)}: sha256 ${digest} does not match the lock's ${deb.sha256}; removed it from the cache, run again (or re-resolve if the archive moved on)`);
    }
  }
  return paths;
}

/** `apt-get download`, reporting how many files arrived every two seconds. */
function aptDownload(specs: string[], cwd: string, count: number, note: (message: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('apt-get', ['download', '-q', ...specs], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let got = 0;
    let errors = '';
    child.stdout.on('data', (chunk: Buffer) => {
      got += (chunk.toString().match(/^Get:/gm) ?? []).length;
    });
    // "Download is performed unsandboxed as root" is harmless (feasibility pitfall 12).
    child.stderr.on('data', (chunk: Buffer) => {
      errors += chunk.toString().split('\n').filter((line) => line && !line.includes('unsandboxed')).join('\n');
    });
    const timer = setInterval(() => note(`download: ${got}/${count} files`), 2000);
    child.on('error', (error) => { clearInterval(timer); reject(error); });
    child.on('close', (code) => {
      clearInterval(timer);
      if (code === 0) {
        note(`download: ${got}/${count} files`);
        resolve();
      } else reject(new Error(`apt-get download failed (exit ${code}): ${errors.trim()}`));
    });
  });
}

/**
 * Extracts .debs into one directory (no maintainer scripts, no chroot), once:
 * the directory is keyed by the digest of the package set and reused.
 */
export async function extractDebs(debs: readonly LockedDeb[], paths: readonly string[], cacheDir: string, label: string): Promise<string> {
  const key = createHash('sha256').update(debs.map((deb) => `${deb.name}=${deb.version}`).sort().join('\n')).digest('hex').slice(0, 16);
  const target = join(cacheDir, 'extracted', `${label}-${key}`);
  const done = join(target, '.ingot-extracted');
  if (await exists(done)) return target;
  await rm(target, { recursive: true, force: true });
  await mkdir(target, { recursive: true });
  // dpkg -x is I/O bound; four at a time keeps two cores busy without thrashing.
  const queue = [...paths];
  await Promise.all(Array.from({ length: 4 }, async () => {
    for (let path = queue.shift(); path; path = queue.shift()) await run(['dpkg-deb', '-x', path, target]);
  }));
  await writeFile(done, `${debs.map((deb) => `${deb.name}=${deb.version}`).join('\n')}\n`);
  return target;
}
