/**
 * Pure parsing of `modprobe -d <root> -S <release> --show-depends -a <modules>`:
 * the host's kmod resolves dependencies AND softdeps (ext4 needs crc32c only
 * through a softdep; busybox modprobe in the ramdisk ignores softdeps), and
 * prints them in load order.
 */
export interface ModuleClosure {
  /** Module files relative to /lib/modules/<release>, in load order, each once. */
  files: string[];
  /** Requested modules the kernel has built in (nothing to load). */
  builtin: string[];
}

/** The module name of a `.ko` path: `kernel/fs/nls/nls_iso8859-1.ko` gives `nls_iso8859_1`. */
export function moduleNameOf(file: string): string {
  return (file.split('/').at(-1) ?? file).replace(/\.ko(\.[a-z]+)?$/, '').replaceAll('-', '_');
}

export function parseShowDepends(text: string, modulesDir: string): ModuleClosure {
  const prefix = modulesDir.endsWith('/') ? modulesDir : `${modulesDir}/`;
  const files: string[] = [];
  const builtin: string[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] === 'insmod' && fields[1]) {
      const path = fields[1];
      if (!path.startsWith(prefix)) throw new Error(`modprobe named a module outside ${prefix}: ${path}`);
      const relative = path.slice(prefix.length);
      if (!files.includes(relative)) files.push(relative);
    } else if (fields[0] === 'builtin' && fields[1]) {
      if (!builtin.includes(fields[1])) builtin.push(fields[1]);
    }
  }
  return { files, builtin };
}
