import { isIngotError } from '@ingot/protocol';
import { UsageError } from '@ingot/protocol/cli';
import type { AgentConfig } from './config.ts';
import type { FileStat, System } from './system/system.ts';

const example = 'e.g. truncate -s 1G /tmp/disk0.img, then --disk /tmp/disk0.img';

/**
 * What the command line names must be there before the agent starts, or it
 * would look itself up, get a token and only then fail (or, with no disk,
 * run with nothing to clean or deploy to): outside the ramdisk at least one
 * --disk, each a regular file or a block device; in any mode the --machine
 * file and the PEM files (--ca-file, --tls-cert-file, --tls-key-file). Each problem is a UsageError (exit 2) naming the flag and the path.
 * The paths are looked at through the System seam, never written.
 */
export async function checkCommandLinePaths(input: { config: Partial<Pick<AgentConfig, 'disk' | 'machine' | 'caFile' | 'tlsCertFile' | 'tlsKeyFile'>>; inRamdisk: boolean; system: Pick<System, 'stat'> }): Promise<void> {
  const { config, inRamdisk, system } = input;
  if (!inRamdisk) {
    const disks = config.disk ?? [];
    if (disks.length === 0) {
      throw new UsageError(`sandbox mode (not inside the Ingot ramdisk) needs at least one --disk, a disk file or a loop device, ${example}`);
    }
    for (const disk of disks) {
      const found = await statOrRefuse(system, '--disk', disk, `create a disk file (truncate -s 1G ${disk}) or give a loop device`);
      if (!found.isFile && !found.isBlockDevice) throw new UsageError(`--disk ${disk}: neither a regular file nor a block device; give a disk file or a loop device`);
    }
  }
  for (const [flag, path, what] of [
    ['--machine', config.machine, 'see examples/machine.json for the format'],
    ['--ca-file', config.caFile, 'give the PEM file of the CA that signed the conductor\'s certificate'],
    ['--tls-cert-file', config.tlsCertFile, 'give the PEM certificate the agent serves'],
    ['--tls-key-file', config.tlsKeyFile, 'give the PEM key of --tls-cert-file'],
  ] as const) {
    if (path === undefined) continue;
    const found = await statOrRefuse(system, flag, path, what);
    if (!found.isFile) throw new UsageError(`${flag} ${path}: not a regular file; ${what}`);
  }
}

async function statOrRefuse(system: Pick<System, 'stat'>, flag: string, path: string, hint: string): Promise<FileStat> {
  try {
    return await system.stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new UsageError(`${flag} ${path}: no such file; ${hint}`);
    throw new UsageError(`${flag} ${path}: cannot be examined (${code ?? (error as Error).message}); check the path and its permissions`);
  }
}

/** resolveConfig's refusals (INGOT_CONFIG_INVALID) are about what the user gave: usage errors, exit 2. */
export function refuseInvalidConfig<T>(resolve: () => T): T {
  try {
    return resolve();
  } catch (error) {
    if (isIngotError(error, 'INGOT_CONFIG_INVALID')) throw new UsageError(error.details);
    throw error;
  }
}
