import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { AGENT_DIR, assembleRoot } from './assemble-root.ts';
import { bundleAgent } from './bundle-agent.ts';
import { run } from './exec.ts';
import { extractDebs, fetchDebs, sha256File } from './fetch-debs.ts';
import { fetchNode } from './fetch-node.ts';
import { renderKernelAppend } from './grub.ts';
import { installModules, resolveModules } from './kernel-modules.ts';
import { parseLockFile, type LockFile } from './lock-file.ts';
import { makeIso, removeIsoStaging } from './make-iso.ts';
import { buildManifest, renderSizeTable, type Manifest, type OutputFile } from './manifest.ts';
import { selectModules } from './modules.ts';
import { packInitramfs, type Compression } from './pack-initramfs.ts';
import { createProgress, formatMiB } from './progress.ts';
import { extractVmlinux } from './vmlinux.ts';

export const IMAGE_BUILD_DIR = resolve(new URL('..', import.meta.url).pathname);
export const REPO_ROOT = resolve(IMAGE_BUILD_DIR, '..');
export const DEFAULT_LOCK = join(IMAGE_BUILD_DIR, 'packages.lock.json');
export const DEFAULT_AGENT_ENTRY = join(REPO_ROOT, 'agent', 'src', 'main.ts');

export function defaultCacheDir(): string {
  return process.env.XDG_CACHE_HOME ? join(process.env.XDG_CACHE_HOME, 'ingot-image-build') : join(homedir(), '.cache', 'ingot-image-build');
}

export interface RamdiskOptions {
  out: string;
  cacheDir: string;
  lockPath: string;
  compression: Compression;
  extraModules: string[];
  append: string[];
  iso: boolean;
  /** Overrides the lock's sourceDateEpoch (SOURCE_DATE_EPOCH in the environment). */
  sourceDateEpoch?: number;
  agentEntry: string;
  /** Stops the build (Ctrl-C): the running tool is killed and the partial outputs are removed. */
  signal?: AbortSignal;
}

/** Suffix of an output being written; renamed away once every output is complete. */
const PARTIAL = '.partial';

/**
 * Builds into `<out>/<name>.partial` files and renames them only once all are
 * complete, manifest.json last: an interrupted or failed build leaves the
 * previous build's files as they were (or none), never a half-written
 * initramfs or ISO under its final name. On failure or abort the partial
 * files and the ISO's staging tree are removed.
 */
export async function buildRamdisk(options: RamdiskOptions): Promise<Manifest> {
  const out = resolve(options.out);
  const work = `${out}.work`;
  try {
    return await buildInto(out, work, options);
  } catch (error) {
    await removePartialOutputs(out, work);
    throw options.signal?.aborted ? options.signal.reason : error;
  }
}

/** What an interrupted or failed build leaves that is not a finished output. */
export async function removePartialOutputs(out: string, work: string): Promise<void> {
  const names = await readdir(out).catch(() => [] as string[]);
  await Promise.all(names.filter((name) => name.includes(PARTIAL)).map((name) => rm(join(out, name), { force: true })));
  await removeIsoStaging(work);
}

async function buildInto(out: string, work: string, options: RamdiskOptions): Promise<Manifest> {
  const { signal } = options;
  const progress = createProgress({ signal });
  const lock: LockFile = parseLockFile(await readFile(options.lockPath, 'utf8'));
  const epoch = options.sourceDateEpoch ?? lock.sourceDateEpoch;
  const staging = join(work, 'root');
  await mkdir(out, { recursive: true });
  await mkdir(work, { recursive: true });
  const kernelAppend = renderKernelAppend(options.append);

  const debPaths = await progress.phase(`fetch ${lock.packages.length + 1} .debs (cache ${options.cacheDir})`, () => fetchDebs([lock.kernel, ...lock.packages], options.cacheDir, progress.note));
  const [kernelRoot, sysroot] = await progress.phase('extract packages (cached by package set)', () => Promise.all([
    extractDebs([lock.kernel], debPaths.slice(0, 1), options.cacheDir, 'kernel'),
    extractDebs(lock.packages, debPaths.slice(1), options.cacheDir, 'userspace'),
  ]));
  const node = await progress.phase(`node ${lock.node.package}@${lock.node.version}`, () => fetchNode(lock.node, options.cacheDir, progress.note));
  const agentBundle = join(work, 'agent.mjs');
  await progress.phase('bundle the agent (esbuild)', () => bundleAgent({ entry: options.agentEntry, outfile: agentBundle }));
  const assembled = await progress.phase('assemble the root (tools, busybox, libraries, node, agent)', () => assembleRoot({
    staging, sysroot, nodeBinary: node.binary, agentBundle,
    markerText: `ingot ramdisk; kernel ${lock.kernel.release}; node ${lock.node.version}\n`,
  }));
  // The bundle must at least start, where the ramdisk has it: --help needs every import to resolve,
  // the native addons from /opt/ingot/node_modules beside it (not from this repository's, which an
  // output directory outside the repository does not see).
  const stagedBundle = join(staging, AGENT_DIR, 'agent.mjs');
  await run([process.execPath, stagedBundle, '--help'], { signal });
  progress.note(`agent.mjs ${formatMiB((await stat(stagedBundle)).size)}, runs on the host from the staged root (--help)`);
  progress.note(`${assembled.tools.length} tools, ${assembled.applets} busybox applet links, ${assembled.libraries.length} shared libraries`);
  const modules = await progress.phase('kernel modules (closure, depmod)', async () => {
    const set = await resolveModules(kernelRoot, lock.kernel.release, selectModules(options.extraModules));
    await installModules(kernelRoot, lock.kernel.release, set, staging);
    return set;
  });
  progress.note(`${modules.files.length} modules shipped, ${modules.early.length} loaded early, ${modules.late.length} late, the rest by coldplug${modules.builtin.length ? `; built in: ${modules.builtin.join(' ')}` : ''}`);

  // Final names, and the partial files they are written as.
  const final = { vmlinuz: join(out, 'vmlinuz'), vmlinux: join(out, 'vmlinux'), initramfs: join(out, 'initramfs.cpio.zst'), iso: join(out, 'ingot-ramdisk.iso') };
  const partial = (path: string) => `${path}${PARTIAL}`;
  await copyFile(join(kernelRoot, 'boot', `vmlinuz-${lock.kernel.release}`), partial(final.vmlinuz));
  const pvh = await progress.phase('vmlinux for VMs (the ELF kernel inside vmlinuz, booted by QEMU through PVH)', () => extractVmlinux(partial(final.vmlinuz), partial(final.vmlinux)));
  if (!pvh) progress.note('this kernel has no PVH entry point: no vmlinux, VMs boot vmlinuz');
  const components = await progress.phase(`pack initramfs (cpio newc, ${options.compression}, SOURCE_DATE_EPOCH=${epoch})`, () => packInitramfs({
    staging, output: partial(final.initramfs), compression: options.compression, sourceDateEpoch: epoch, note: progress.note, signal,
  }));
  if (options.iso) {
    await progress.phase('virtual-media ISO (grub-mkrescue, BIOS + UEFI)', () => makeIso({ vmlinuz: partial(final.vmlinuz), initramfs: partial(final.initramfs), kernelAppend, workDir: work, output: partial(final.iso), sourceDateEpoch: epoch, signal }));
  }

  const written: [name: string, path: string][] = [['vmlinuz', final.vmlinuz], ...(pvh ? [['vmlinux', final.vmlinux] as [string, string]] : []), ['initramfs', final.initramfs], ...(options.iso ? [['iso', final.iso] as [string, string]] : [])];
  const outputs: Record<string, OutputFile> = {};
  for (const [name, path] of written) {
    outputs[name] = { path: path.slice(out.length + 1), bytes: (await stat(partial(path))).size, sha256: await sha256File(partial(path)) };
  }
  signal?.throwIfAborted();
  // From here on nothing waits on a tool: the old manifest goes first, so a set of files with a manifest is always one build's.
  const manifestPath = join(out, 'manifest.json');
  await rm(manifestPath, { force: true });
  for (const [, path] of written) await rename(partial(path), path);
  if (!pvh) await rm(final.vmlinux, { force: true });
  if (!options.iso) await rm(final.iso, { force: true });
  const manifest = buildManifest({ lock, moduleLoadOrder: { early: modules.early, late: modules.late }, modulesShipped: modules.files.length, compression: options.compression, sourceDateEpoch: epoch, kernelAppend, components, outputs });
  await writeFile(partial(manifestPath), `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(partial(manifestPath), manifestPath);
  process.stderr.write(`${renderSizeTable(manifest)}\n`);
  process.stderr.write(`built ${out} in ${progress.elapsed().toFixed(1)} s: initramfs ${formatMiB(outputs.initramfs!.bytes)} sha256 ${outputs.initramfs!.sha256}\n`);
  return manifest;
}
