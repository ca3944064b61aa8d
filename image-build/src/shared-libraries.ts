import { copyFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseReadelf } from './elf.ts';
import { run } from './exec.ts';

/** Where a Debian sysroot keeps shared libraries, searched in this order. */
export const LIBRARY_DIRS = ['lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu', 'lib64', 'usr/lib64', 'lib', 'usr/lib'];
/** Where the ramdisk keeps them (merged /usr; the loader's default multiarch dir). */
export const RAMDISK_LIBRARY_DIR = 'usr/lib/x86_64-linux-gnu';

async function findInSysroot(sysroot: string, soname: string): Promise<string | undefined> {
  for (const dir of LIBRARY_DIRS) {
    const candidate = join(sysroot, dir, soname);
    if (await stat(candidate).then((info) => info.isFile(), () => false)) return candidate;
  }
  return undefined;
}

async function readDynamic(files: string[]): Promise<Map<string, { needed: string[]; interpreter?: string }>> {
  if (files.length === 0) return new Map();
  const text = await run(['readelf', '-d', '-l', '-W', ...files]).catch((error: Error) => {
    throw new Error(`readelf failed on ${files.join(' ')}`, { cause: error });
  });
  return parseReadelf(text, files.length === 1 ? files[0] : undefined);
}

/**
 * Copies into `<staging>/usr/lib/x86_64-linux-gnu` every shared library the
 * given ELF files need, transitively, taken from the SYSROOT (the build host's
 * libraries may be other versions). One readelf run per level of the walk.
 * Throws naming the library and who needs it when the sysroot lacks one: add
 * its package to packages.ts and re-resolve.
 */
export async function copySharedLibraries(elfFiles: readonly string[], sysroot: string, staging: string): Promise<string[]> {
  const copied = new Map<string, string>();
  let frontier = [...elfFiles];
  while (frontier.length > 0) {
    const info = await readDynamic(frontier);
    const next: string[] = [];
    for (const [file, { needed }] of info) {
      for (const soname of needed) {
        if (copied.has(soname)) continue;
        const source = await findInSysroot(sysroot, soname);
        if (!source) throw new Error(`${file} needs ${soname}, which no package in the lock provides`);
        const target = join(staging, RAMDISK_LIBRARY_DIR, soname);
        await copyFile(await realpath(source), target);
        copied.set(soname, target);
        next.push(target);
      }
    }
    frontier = next;
  }
  return [...copied.keys()].sort();
}
