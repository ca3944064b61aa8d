import type { System } from './system/system.ts';

/** Written by image-build into the ramdisk; never present on an installed system. */
export const RAMDISK_MARKER = '/etc/ingot/ramdisk';

/**
 * The agent owns the machine's disks only inside its own ramdisk: the marker
 * file exists AND the root filesystem is the initramfs (rootfs, tmpfs or
 * ramfs). Anywhere else it runs in sandbox mode and sees only the disks it was
 * explicitly given.
 */
export async function detectRamdisk(system: System): Promise<boolean> {
  if (!(await system.exists(RAMDISK_MARKER))) return false;
  const mounts = await system.readText('/proc/mounts').catch(() => '');
  const root = mounts.split('\n').map((line) => line.split(' ')).find((fields) => fields[1] === '/');
  return root !== undefined && ['rootfs', 'tmpfs', 'ramfs'].includes(root[2] ?? '');
}

/**
 * The ramdisk's /init starts the agent at once, so that Node's own start
 * (seconds under emulation) overlaps module loading and the network bring-up,
 * and names in INGOT_INIT_READY the file it creates once the network and the
 * configuration device are settled. Everything before the lookup waits for it.
 * Without the variable (any other init, a restart) there is nothing to wait for.
 */
export async function waitForInit(options: {
  path: string | undefined;
  exists: (path: string) => Promise<boolean>;
  pollMs?: number;
  timeoutMs?: number;
  onSlow?: (waitedMs: number) => void;
}): Promise<void> {
  const { path, exists } = options;
  if (!path) return;
  const pollMs = options.pollMs ?? 50;
  const timeoutMs = options.timeoutMs ?? 300_000;
  const started = Date.now();
  let nextNotice = 10_000;
  while (!(await exists(path))) {
    const waited = Date.now() - started;
    if (waited >= timeoutMs) {
      throw new Error(`/init did not create ${path} within ${Math.round(timeoutMs / 1000)} s (modules or network still settling?); see the console for ingot-init's last line`);
    }
    if (waited >= nextNotice) {
      options.onSlow?.(waited);
      nextNotice += 10_000;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
