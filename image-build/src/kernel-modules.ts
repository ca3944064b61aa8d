import { copyFile, mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { run } from './exec.ts';
import { moduleNameOf, parseShowDepends } from './module-closure.ts';
import type { ModuleSelection } from './modules.ts';

/** Index files modprobe (and busybox modprobe) read besides modules.dep, which depmod writes. */
const KERNEL_INDEX_FILES = ['modules.order', 'modules.builtin', 'modules.builtin.modinfo'];

export interface ModuleSet {
  /** `.ko` files shipped, relative to /lib/modules/<release>. */
  files: string[];
  /** Module names /init loads before the network, in load order (one `modprobe -a`), softdeps included. */
  early: string[];
  /** Module names /init loads in the background afterwards (those not already loaded early). */
  late: string[];
  builtin: string[];
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/**
 * The closure of the wanted modules in the extracted kernel package, by the
 * build host's kmod (`-C /dev/null`: the host's modprobe.d must not add options
 * or blacklists). The kernel .deb ships no modules.dep, so depmod runs once on
 * the extracted tree first.
 */
export async function resolveModules(kernelRoot: string, release: string, selection: ModuleSelection): Promise<ModuleSet> {
  const modulesDir = join(kernelRoot, 'lib', 'modules', release);
  if (!(await exists(join(modulesDir, 'modules.dep')))) await run(['depmod', '-b', kernelRoot, release]);
  const closureOf = async (names: readonly string[]) => {
    const output = await run(['modprobe', '-C', '/dev/null', '-d', kernelRoot, '-S', release, '--show-depends', '-a', ...names]).catch((error: Error) => {
      throw new Error(`a module of the list is unknown to kernel ${release} (check modules.ts and --extra-module)`, { cause: error });
    });
    return parseShowDepends(output, modulesDir);
  };
  const shipped = await closureOf(selection.ship);
  const early = (await closureOf(selection.early)).files.map(moduleNameOf);
  const late = (await closureOf(selection.late)).files.map(moduleNameOf).filter((name) => !early.includes(name));
  return { files: shipped.files, builtin: shipped.builtin, early, late };
}

/**
 * Copies the closure into the staging root's /usr/lib/modules/<release> and
 * runs `depmod -b` there, so modules.dep and modules.alias (for coldplug)
 * describe exactly what ships.
 */
export async function installModules(kernelRoot: string, release: string, set: ModuleSet, staging: string): Promise<void> {
  const from = join(kernelRoot, 'lib', 'modules', release);
  const to = join(staging, 'usr', 'lib', 'modules', release);
  for (const file of set.files) {
    await mkdir(dirname(join(to, file)), { recursive: true });
    await copyFile(join(from, file), join(to, file));
  }
  for (const file of KERNEL_INDEX_FILES) if (await exists(join(from, file))) await copyFile(join(from, file), join(to, file));
  await run(['depmod', '-b', staging, release]);
  await mkdir(join(staging, 'etc', 'ingot'), { recursive: true });
  await writeFile(join(staging, 'etc', 'ingot', 'modules-early'), `${set.early.join('\n')}\n`);
  await writeFile(join(staging, 'etc', 'ingot', 'modules-late'), `${set.late.join('\n')}\n`);
}
