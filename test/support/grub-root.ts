import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, realpathSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * A partition image's root filesystem that boots with GRUB, built from this
 * host's own Debian binaries (grub2-common, grub-common, grub-pc-bin,
 * grub-efi-amd64-bin and the coreutils grub-mkconfig runs), each with its
 * shared libraries as ldd lists them, in Debian's merged-/usr layout. It
 * holds a stand-in kernel, so grub-mkconfig writes a menu entry that searches
 * the root by its filesystem UUID. `mkfs.ext4 -d` turns the directory into
 * the image. The loop-device test (test/device) and the QEMU test (test/e2e)
 * both deploy it and run its grub-install through the agent.
 */
export type GrubPlatform = 'i386-pc' | 'x86_64-efi';

const PROGRAMS = [
  '/usr/sbin/grub-install', '/usr/sbin/grub-probe', '/usr/sbin/grub-mkconfig', '/usr/bin/grub-mkrelpath', '/usr/bin/grub-editenv',
  '/usr/bin/grub-script-check', '/usr/bin/grub-file', '/usr/bin/sh', '/usr/bin/dash', '/usr/bin/sed', '/usr/bin/grep', '/usr/bin/sort',
  '/usr/bin/cat', '/usr/bin/rm', '/usr/bin/mv', '/usr/bin/cp', '/usr/bin/mkdir', '/usr/bin/chmod', '/usr/bin/basename', '/usr/bin/dirname',
  '/usr/bin/tr', '/usr/bin/head', '/usr/bin/tail', '/usr/bin/ls', '/usr/bin/uname', '/usr/bin/readlink', '/usr/bin/wc', '/usr/bin/cut',
  '/usr/bin/awk', '/usr/bin/gettext', '/usr/bin/id', '/usr/bin/stat', '/usr/bin/test', '/usr/bin/[', '/usr/bin/expr', '/usr/bin/touch',
  '/usr/bin/find', '/usr/bin/ln', '/usr/bin/echo', '/usr/bin/env', '/usr/bin/true', '/usr/bin/false', '/usr/bin/printf', '/usr/bin/sync',
  '/usr/bin/xargs', '/usr/bin/tac', '/usr/bin/mktemp', '/usr/bin/fgrep',
  // GRUB's Linux getroot asks udevadm for a partition's sysfs path (to find its start and parent disk); every systemd image has it.
  '/usr/bin/udevadm',
];

const GRUB_SCRIPTS = ['00_header', '10_linux'];

/** The Debian package that puts each GRUB part on the host, for the message when one is missing. */
const PACKAGE_OF: Record<string, string> = {
  '/usr/sbin/grub-install': 'grub2-common',
  '/usr/lib/grub/i386-pc': 'grub-pc-bin',
  '/usr/lib/grub/x86_64-efi': 'grub-efi-amd64-bin',
  '/usr/bin/udevadm': 'udev',
};
const packageOf = (path: string) => PACKAGE_OF[path] ?? (/grub/.test(path) ? 'grub-common' : 'coreutils');

/** Host tools the build runs besides what it copies. */
const BUILD_TOOLS = ['/usr/bin/ldd', '/usr/sbin/mkfs.ext4'];

/**
 * Why this host cannot build a GRUB root for these platforms (the missing
 * files and the Debian packages that hold them), or null when it can.
 */
export function grubRootUnavailable(platforms: readonly GrubPlatform[]): string | null {
  const needed = [...PROGRAMS, ...platforms.map((platform) => `/usr/lib/grub/${platform}`), '/usr/share/grub', ...GRUB_SCRIPTS.map((script) => `/etc/grub.d/${script}`)];
  const missing = needed.filter((path) => !existsSync(path));
  const missingTools = BUILD_TOOLS.filter((path) => !existsSync(path));
  if (missing.length === 0 && missingTools.length === 0) return null;
  const packages = [...new Set([...missing.map(packageOf), ...missingTools.map((path) => (path.endsWith('ldd') ? 'libc-bin' : 'e2fsprogs'))])];
  return `cannot build a partition image holding GRUB from this host's binaries: ${[...missing, ...missingTools].join(', ')} missing (apt-get install ${packages.join(' ')}; scripts/debian-packages.sh test installs them)`;
}

function sharedLibraries(program: string): string[] {
  let output = '';
  try {
    output = execFileSync('ldd', [program], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return []; // a script, or static
  }
  return [...output.matchAll(/(\/\S+\.so[^\s]*)/g)].map((match) => match[1]!);
}

export const TEST_KERNEL = 'vmlinuz-6.1.0-ingot';

/**
 * `extraPrograms`: more host programs to copy with their libraries, e.g.
 * /usr/sbin/mdadm, which GRUB's grub-probe runs to name a RAID root's array
 * (`mduuid/...`); an OS on RAID has it anyway, for its initramfs.
 */
export function buildGrubRoot(root: string, platforms: readonly GrubPlatform[], extraPrograms: readonly string[] = []): void {
  for (const dir of ['usr/bin', 'usr/sbin', 'usr/lib', 'usr/lib64', 'etc/default', 'etc/grub.d', 'boot/grub', 'dev', 'proc', 'sys', 'tmp', 'run', 'usr/share', 'usr/lib/grub']) {
    mkdirSync(join(root, dir), { recursive: true });
  }
  for (const link of ['bin', 'sbin', 'lib', 'lib64']) symlinkSync(`usr/${link}`, join(root, link));
  const files = new Set<string>();
  for (const program of [...PROGRAMS, ...extraPrograms]) {
    files.add(program);
    for (const library of sharedLibraries(realpathSync(program))) files.add(library);
  }
  for (const file of files) {
    const target = join(root, file);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(realpathSync(file), target);
  }
  execFileSync('chmod', ['-R', 'a+rx', join(root, 'usr/bin'), join(root, 'usr/sbin')]);
  for (const platform of platforms) cpSync(`/usr/lib/grub/${platform}`, join(root, 'usr/lib/grub', platform), { recursive: true });
  cpSync('/usr/share/grub', join(root, 'usr/share/grub'), { recursive: true });
  for (const script of GRUB_SCRIPTS) copyFileSync(`/etc/grub.d/${script}`, join(root, 'etc/grub.d', script));
  writeFileSync(join(root, 'etc/default/grub'), 'GRUB_DEFAULT=0\nGRUB_TIMEOUT=1\nGRUB_DISTRIBUTOR=Ingot\nGRUB_CMDLINE_LINUX_DEFAULT=""\nGRUB_CMDLINE_LINUX=""\nGRUB_DISABLE_OS_PROBER=true\n');
  writeFileSync(join(root, 'boot', TEST_KERNEL), 'not a real kernel: grub-mkconfig only needs the file\n');
  writeFileSync(join(root, 'boot/initrd.img-6.1.0-ingot'), 'not a real initramfs\n');
  mkdirSync(join(root, 'tmp'), { recursive: true, mode: 0o1777 });
}

/**
 * The partition image itself: an ext4 filesystem of `sizeMiB` in `file`
 * (sparse), with the given UUID, holding the GRUB root. With x86_64-efi only,
 * 64 MiB holds it; both platforms need about 72.
 */
export function buildGrubRootImage(file: string, options: { platforms: readonly GrubPlatform[]; uuid: string; sizeMiB: number; extraPrograms?: readonly string[] }): void {
  const tree = `${file}.tree`;
  rmSync(tree, { recursive: true, force: true });
  buildGrubRoot(tree, options.platforms, options.extraPrograms);
  writeFileSync(file, '');
  truncateSync(file, options.sizeMiB * 1024 * 1024);
  execFileSync('/usr/sbin/mkfs.ext4', ['-q', '-F', '-U', options.uuid, '-d', tree, file], { stdio: ['ignore', 'ignore', 'pipe'] });
  rmSync(tree, { recursive: true, force: true });
}
