/**
 * mount/umount, for reaching the files of an ESP or of a partition image's
 * root (install_bootloader). busybox's mount in the ramdisk takes these forms.
 */
export function mountArgv(device: string, target: string, options: { type?: string; readOnly?: boolean } = {}): string[] {
  return ['mount', ...(options.type ? ['-t', options.type] : []), ...(options.readOnly ? ['-o', 'ro'] : []), device, target];
}

/** `-o bind` rather than `--bind`: busybox's mount, which the ramdisk runs, takes the option form. */
export function bindMountArgv(source: string, target: string): string[] {
  return ['mount', '-o', 'bind', source, target];
}

export function umountArgv(target: string, options: { lazy?: boolean } = {}): string[] {
  return ['umount', ...(options.lazy ? ['-l'] : []), target];
}

/** A fresh private directory for a mount point (under /tmp: tmpfs in the ramdisk). */
export function mktempDirArgv(prefix: string): string[] {
  return ['mktemp', '-d', `/tmp/${prefix}.XXXXXX`];
}
