import type { Logger } from 'pino';
import type { System } from '../system/system.ts';
import { bindMountArgv, mktempDirArgv, mountArgv, umountArgv } from '../tools/mount.ts';

/**
 * Mounts made for one bootloader job, undone in reverse order whatever
 * happens, so a failed grub-install never leaves the image's root, the ESP or
 * the host's /dev bound under /tmp.
 */
export interface MountStack {
  /** Makes a private directory and mounts the device there; returns the directory. */
  mountDevice(device: string, type?: string): Promise<string>;
  mountAt(device: string, target: string, type?: string): Promise<void>;
  bind(source: string, target: string): Promise<void>;
  release(): Promise<void>;
}

export function createMountStack(system: System, log: Logger): MountStack {
  const mounted: string[] = [];
  const dirs: string[] = [];
  const stack: MountStack = {
    async mountDevice(device, type) {
      const dir = (await system.run(mktempDirArgv('ingot-mnt'))).stdout.trim();
      dirs.push(dir);
      await stack.mountAt(device, dir, type);
      return dir;
    },
    async mountAt(device, target, type) {
      await system.run(mountArgv(device, target, type ? { type } : {}));
      mounted.push(target);
    },
    async bind(source, target) {
      await system.run(bindMountArgv(source, target));
      mounted.push(target);
    },
    async release() {
      for (const target of mounted.splice(0).reverse()) {
        const result = await system.run(umountArgv(target), { allowFailure: true });
        if (result.exitCode !== 0) {
          // Something inside still holds it (a grub helper lingering): detach lazily rather than leave it mounted for good.
          log.warn({ target, stderr: result.stderr.trim() }, 'umount failed; detaching lazily');
          await system.run(umountArgv(target, { lazy: true }), { allowFailure: true });
        }
      }
      for (const dir of dirs.splice(0).reverse()) await system.run(['rmdir', dir], { allowFailure: true });
    },
  };
  return stack;
}
