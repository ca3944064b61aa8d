export { buildRamdisk, defaultCacheDir, DEFAULT_LOCK, type RamdiskOptions } from './build-ramdisk.ts';
export { resolveLock, type ResolveOptions } from './resolve.ts';
export { parseLockFile, renderLockFile, type LockFile } from './lock-file.ts';
export type { Manifest, ComponentSize } from './manifest.ts';
export { MODULE_GROUPS, selectModules, type ModuleGroup } from './modules.ts';
export { renderKernelAppend, renderGrubConfig } from './grub.ts';
export { bundleAgent } from './bundle-agent.ts';
