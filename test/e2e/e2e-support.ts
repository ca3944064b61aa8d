/**
 * What every QEMU end-to-end test shares: where the built ramdisk is, whether
 * this machine can run the tests at all, and a bound on every wait.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Vm } from './qemu.ts';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const ramdiskDir = process.env.INGOT_RAMDISK_DIR ?? join(root, 'build/ramdisk');
/** What real servers' boot loaders load (a bzImage). */
export const vmlinuz = join(ramdiskDir, 'vmlinuz');
/**
 * What VMs boot where the build made it (the same kernel uncompressed, entered
 * through PVH): under TCG it reaches the kernel's start seconds sooner.
 */
export const kernel = existsSync(join(ramdiskDir, 'vmlinux')) ? join(ramdiskDir, 'vmlinux') : vmlinuz;
export const initrd = join(ramdiskDir, 'initramfs.cpio.zst');
/** What the build says it put in the ramdisk (image-build/src/manifest.ts). */
export const ramdiskManifest = join(ramdiskDir, 'manifest.json');

/** The kernel modules the built ramdisk's /init loads, early and late (coldplug-only ones are not among them). */
export function readRamdiskModules(): string[] {
  const { modules } = JSON.parse(readFileSync(ramdiskManifest, 'utf8')) as { modules: { early: string[]; late: string[] } };
  return [...modules.early, ...modules.late];
}

/** Why the QEMU tests cannot run here (the ramdisk or a host tool is missing), or undefined. */
export function e2eUnavailable(tools: string[]): string | undefined {
  const missingFiles = [vmlinuz, initrd].filter((path) => !existsSync(path));
  if (missingFiles.length > 0) return `the ramdisk is not built (${missingFiles.join(', ')} missing): run \`npm run ramdisk\` first`;
  const missingTools = ['qemu-system-x86_64', ...tools].filter((tool) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore', env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` } });
      return false;
    } catch {
      return true;
    }
  });
  if (missingTools.length > 0) return `missing host tools: ${missingTools.join(', ')} (apt-get install qemu-system-x86 gdisk e2fsprogs util-linux xorriso mtools openssl nginx; scripts/debian-packages.sh test installs them all)`;
  return undefined;
}

/** Rejects after `ms`, or when QEMU exits first, so that no wait is unbounded. */
export function within<T>(what: string, ms: number, promise: Promise<T>, vm?: Vm): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s waiting for ${what}${vm ? `; console: ${vm.consoleLog}` : ''}`)), ms);
    timer.unref();
  });
  const died = vm ? vm.exited.then(({ code, signal }) => { throw new Error(`QEMU exited (code ${code}, signal ${signal}) while waiting for ${what}; console: ${vm.consoleLog}`); }) : new Promise<never>(() => undefined);
  return Promise.race([promise, timeout, died]).finally(() => clearTimeout(timer));
}
