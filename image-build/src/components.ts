/**
 * The parts of the initramfs whose sizes the manifest and the benchmark
 * report. Each ships as its own compressed cpio segment (the kernel unpacks
 * concatenated segments in order), so its compressed size is exact, not an
 * estimate.
 */
export const COMPONENTS = ['base', 'busybox+tools', 'libraries', 'modules', 'node', 'agent'] as const;
export type Component = (typeof COMPONENTS)[number];

/**
 * The component of a path relative to the ramdisk root. Directories always
 * belong to `base`, which is unpacked first, so every later segment finds its
 * parent directories.
 */
export function componentOf(path: string, isDirectory: boolean): Component {
  if (isDirectory) return 'base';
  if (path === 'usr/bin/node') return 'node';
  if (path.startsWith('opt/ingot/')) return 'agent';
  if (path.startsWith('usr/lib/modules/')) return 'modules';
  if (path.startsWith('usr/lib/x86_64-linux-gnu/') || path.startsWith('usr/lib64/')) return 'libraries';
  if (path.startsWith('usr/bin/') || path.startsWith('usr/sbin/')) return 'busybox+tools';
  return 'base';
}
