import type { Logger } from 'pino';
import type { System } from '../system/system.ts';
import type { DeviceGuard } from '../system/device-guard.ts';
import { mdadmAssembleScanArgv, mdadmDetailArgv, parseMdadmDetail, parseMdstat, type MdSync } from '../tools/mdadm.ts';

/**
 * The software RAID arrays the kernel runs, as /proc/mdstat and mdadm see
 * them. Only inside the ramdisk: on any other machine the arrays are the
 * host's own, and the agent never looks at, assembles or stops them.
 */
export interface MdArray {
  /** `/dev/md0`, `/dev/md127`. */
  device: string;
  /** The array's name without its homehost (`root` of `any:root`), or null for an inactive array or one without a name. */
  name: string | null;
  active: boolean;
  /** `raid1`, `raid10`... (null while inactive). */
  level: string | null;
  /** Member devices, `/dev/vda2`. */
  members: string[];
  sync: MdSync | null;
}

const MDSTAT = '/proc/mdstat';

/** The arrays running now; none when the md driver is not loaded. */
export async function listArrays(system: System, guard: DeviceGuard): Promise<MdArray[]> {
  if (guard.mode !== 'ramdisk' || !(await system.exists(MDSTAT))) return [];
  const arrays: MdArray[] = [];
  for (const entry of parseMdstat(await system.readText(MDSTAT))) {
    const device = `/dev/${entry.name}`;
    let name: string | null = null;
    if (entry.active) {
      const detail = await system.run(mdadmDetailArgv(device), { allowFailure: true });
      if (detail.exitCode === 0) name = parseMdadmDetail(detail.stdout).name;
    }
    arrays.push({ device, name, active: entry.active, level: entry.level, members: entry.members.map((m) => `/dev/${m.name}`), sync: entry.sync });
  }
  return arrays;
}

/**
 * Assembles every array whose members are present (`mdadm --assemble
 * --scan`): the ramdisk has no udev to do it at boot, and a previous
 * deployment's arrays must be seen before they are used or removed. Exit 1
 * ("No arrays found") is the normal answer on clean disks.
 */
export async function assembleArrays(system: System, guard: DeviceGuard, log: Logger): Promise<void> {
  if (guard.mode !== 'ramdisk' || !(await system.exists(MDSTAT))) return;
  const result = await system.run(mdadmAssembleScanArgv(), { allowFailure: true });
  log.debug({ exitCode: result.exitCode, output: (result.stderr + result.stdout).trim().slice(0, 2000) }, 'mdadm --assemble --scan');
}
