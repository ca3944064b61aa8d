import { createHash } from 'node:crypto';
import { chmod, copyFile, cp, lstat, mkdir, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { run } from './exec.ts';
import { TOOL_DATA_FILES, TOOL_PROGRAMS } from './packages.ts';
import { copySharedLibraries, RAMDISK_LIBRARY_DIR } from './shared-libraries.ts';

const SOURCE_DIR = dirname(new URL(import.meta.url).pathname);

/** Where the agent lives in the ramdisk; native addons go under its node_modules. */
export const AGENT_DIR = 'opt/ingot';

/**
 * Packages with a native addon, shipped beside the bundle under
 * /opt/ingot/node_modules where the bundle's imports find them: the package's
 * JavaScript `files` plus its addon. zstd-napi is an N-API addon, so the
 * binding node-gyp built for the host's Node loads in the ramdisk's Node 24;
 * copySharedLibraries follows its NEEDED libraries.
 */
export const NATIVE_ADDONS: readonly { package: string; files: readonly string[]; addon: string }[] = [
  { package: 'zstd-napi', files: ['package.json', 'binding.js', 'dist'], addon: 'build/Release/binding.node' },
];

/** Copies each native-addon package from the build's node_modules; returns the addons' paths in the staging root. */
async function copyNativeAddons(staging: string): Promise<string[]> {
  const resolveFrom = createRequire(import.meta.url);
  const addons: string[] = [];
  for (const addon of NATIVE_ADDONS) {
    const source = dirname(resolveFrom.resolve(`${addon.package}/package.json`));
    const target = join(staging, AGENT_DIR, 'node_modules', addon.package);
    for (const file of [...addon.files, addon.addon]) {
      await cp(join(source, file), join(target, file), { recursive: true });
    }
    addons.push(join(target, addon.addon));
  }
  return addons;
}

const SYSROOT_BIN_DIRS = ['usr/sbin', 'usr/bin', 'sbin', 'bin'];

async function isFileOrLink(path: string): Promise<boolean> {
  return lstat(path).then((info) => info.isFile() || info.isSymbolicLink(), () => false);
}

/** `bin/x` in a (not yet merged) Debian package becomes `usr/bin/x` in the ramdisk. */
function mergedUsr(dir: string): string {
  return dir.startsWith('usr/') ? dir : `usr/${dir}`;
}

export interface AssembleInputs {
  staging: string;
  sysroot: string;
  nodeBinary: string;
  agentBundle: string;
  markerText: string;
}

export interface AssembledRoot {
  tools: string[];
  applets: number;
  libraries: string[];
}

/**
 * The merged-/usr root, without the kernel modules: skeleton and /etc, the
 * tools (found by name in the sysroot), busybox and its applet links for
 * everything the tools do not provide, node, the agent, /init, and the shared
 * libraries of all of them.
 */
export async function assembleRoot(inputs: AssembleInputs): Promise<AssembledRoot> {
  const { staging, sysroot } = inputs;
  await rm(staging, { recursive: true, force: true });
  for (const dir of ['usr/bin', 'usr/sbin', `${RAMDISK_LIBRARY_DIR}`, 'usr/lib64', 'usr/lib/modules', 'usr/share', 'etc/ingot', 'dev', 'proc', 'sys', 'run', 'tmp', 'root', 'mnt', 'var/log', 'var/lib', `${AGENT_DIR}/node_modules`]) {
    await mkdir(join(staging, dir), { recursive: true });
  }
  await chmod(join(staging, 'tmp'), 0o1777);
  await chmod(join(staging, 'root'), 0o700);
  for (const [link, target] of [['bin', 'usr/bin'], ['sbin', 'usr/sbin'], ['lib', 'usr/lib'], ['lib64', 'usr/lib64'], ['var/run', '../run']] as const) {
    await symlink(target, join(staging, link));
  }
  await symlink(`../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2`, join(staging, 'usr/lib64/ld-linux-x86-64.so.2'));
  // The kernel opens /dev/console before /init runs (and before /init mounts devtmpfs over /dev).
  await run(['mknod', '-m', '600', join(staging, 'dev/console'), 'c', '5', '1']);

  await writeEtc(staging, inputs.markerText);
  for (const file of TOOL_DATA_FILES) await copyFile(join(sysroot, file), join(staging, file));
  await copyFile(join(SOURCE_DIR, 'init.sh'), join(staging, 'init'));
  await chmod(join(staging, 'init'), 0o755);
  await copyFile(join(SOURCE_DIR, 'udhcpc.script'), join(staging, 'etc/ingot/udhcpc.script'));
  await chmod(join(staging, 'etc/ingot/udhcpc.script'), 0o755);

  const tools = await copyTools(sysroot, staging);
  await copyFile(join(sysroot, 'bin/busybox'), join(staging, 'usr/bin/busybox'));
  await chmod(join(staging, 'usr/bin/busybox'), 0o755);
  const applets = await linkApplets(sysroot, staging);
  await copyFile(inputs.nodeBinary, join(staging, 'usr/bin/node'));
  await chmod(join(staging, 'usr/bin/node'), 0o755);
  await copyFile(inputs.agentBundle, join(staging, AGENT_DIR, 'agent.mjs'));
  await writeFile(join(staging, AGENT_DIR, 'package.json'), '{ "type": "module" }\n');

  // Symlinked twins are skipped: their target is in the list already.
  const elfFiles: string[] = await copyNativeAddons(staging);
  for (const path of ['usr/bin/busybox', 'usr/bin/node', ...tools]) if ((await lstat(join(staging, path))).isFile()) elfFiles.push(join(staging, path));
  const libraries = await copySharedLibraries(elfFiles, sysroot, staging);
  return { tools, applets, libraries };
}

/** Follows a symlink inside the sysroot (an absolute target must not escape to the build host). */
async function resolveInSysroot(sysroot: string, path: string, depth = 0): Promise<string> {
  const info = await lstat(join(sysroot, path));
  if (!info.isSymbolicLink()) return path;
  if (depth > 8) throw new Error(`symlink loop at ${path} in the sysroot`);
  const target = await readlink(join(sysroot, path));
  const next = target.startsWith('/') ? target.slice(1) : join(dirname(path), target);
  return resolveInSysroot(sysroot, next, depth + 1);
}

/** Copies each program of TOOL_PROGRAMS; a second program with the same bytes (mkfs.ext4 = mke2fs) becomes a symlink. */
async function copyTools(sysroot: string, staging: string): Promise<string[]> {
  const copied: string[] = [];
  const byDigest = new Map<string, string>();
  for (const name of TOOL_PROGRAMS) {
    let found: string | undefined;
    for (const dir of SYSROOT_BIN_DIRS) if (await isFileOrLink(join(sysroot, dir, name))) { found = dir; break; }
    if (!found) throw new Error(`no package in the lock provides the program ${name}`);
    const target = `${mergedUsr(found)}/${name}`;
    const bytes = await readFile(join(sysroot, await resolveInSysroot(sysroot, `${found}/${name}`)));
    const digest = createHash('sha256').update(bytes).digest('hex');
    const twin = byDigest.get(digest);
    if (twin) {
      await symlink(dirname(twin) === dirname(target) ? basename(twin) : `/${twin}`, join(staging, target));
    } else {
      await writeFile(join(staging, target), bytes, { mode: 0o755 });
      byDigest.set(digest, target);
    }
    copied.push(target);
  }
  return copied;
}

/**
 * busybox applet links for every applet no real tool provides, so that PATH
 * lookups always find the real tool (busybox's `ip` has no -j, its blkid and
 * wipefs are partial). The list comes from running the sysroot's busybox
 * through the sysroot's own loader.
 */
async function linkApplets(sysroot: string, staging: string): Promise<number> {
  const loader = join(sysroot, 'lib/x86_64-linux-gnu/ld-linux-x86-64.so.2');
  const listing = await run([loader, '--library-path', join(sysroot, 'lib/x86_64-linux-gnu'), join(sysroot, 'bin/busybox'), '--list-full']);
  const existing = new Set<string>();
  for (const dir of ['usr/bin', 'usr/sbin']) for (const name of await readdir(join(staging, dir))) existing.add(name);
  let count = 0;
  for (const line of listing.split('\n').map((entry) => entry.trim()).filter(Boolean).sort()) {
    const name = line.split('/').at(-1)!;
    // linuxrc (no directory) is busybox init's alias; /init is ours.
    if (existing.has(name) || name === 'busybox' || !line.includes('/')) continue;
    const dir = mergedUsr(dirname(line));
    await symlink('/usr/bin/busybox', join(staging, dir, name));
    existing.add(name);
    count += 1;
  }
  return count;
}

async function writeEtc(staging: string, markerText: string): Promise<void> {
  const files: [string, string][] = [
    // The agent checks this marker AND that / is the initramfs before it owns the disks.
    ['etc/ingot/ramdisk', markerText],
    ['etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n'],
    ['etc/group', 'root:x:0:\ntty:x:5:\ndisk:x:6:\nnogroup:x:65534:\n'],
    ['etc/shadow', 'root:*:19000:0:99999:7:::\n'],
    ['etc/hosts', '127.0.0.1 localhost ingot\n::1 localhost ip6-localhost ip6-loopback\n'],
    ['etc/hostname', 'ingot\n'],
    ['etc/nsswitch.conf', 'passwd: files\ngroup: files\nhosts: files dns\n'],
    ['etc/resolv.conf', ''],
    ['etc/os-release', 'NAME="Ingot provisioning ramdisk"\nID=ingot\nID_LIKE=debian\nPRETTY_NAME="Ingot provisioning ramdisk"\n'],
    ['etc/mtab', ''],
  ];
  for (const [path, text] of files) await writeFile(join(staging, path), text);
  await chmod(join(staging, 'etc/shadow'), 0o600);
  await rm(join(staging, 'etc/mtab'));
  await symlink('../proc/self/mounts', join(staging, 'etc/mtab'));
}
