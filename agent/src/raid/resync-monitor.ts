import type { Logger } from 'pino';
import type { CommandProgress, CommandProgressItem } from '@ingot/protocol';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeviceGuard } from '../system/device-guard.ts';
import type { System } from '../system/system.ts';
import { listArrays, type MdArray } from '../disks/md-arrays.ts';

/** How often /proc/mdstat is read while arrays sync. */
export const RESYNC_POLL_MS = 2000;

/**
 * Follows the initial resync of the arrays a step created, after the step
 * itself has ended (deployment goes on meanwhile): the step's command status
 * keeps `command_progress` current, one item per array, until every array is
 * in sync, the arrays are gone, or the agent resets.
 */
export async function followResync(deps: { system: System; guard: DeviceGuard; log: Logger; signal: AbortSignal; progress(progress: CommandProgress): void }, devices: readonly string[]): Promise<void> {
  const { log, signal } = deps;
  const started = Date.now();
  try {
    for (;;) {
      const arrays = (await listArrays(deps.system, deps.guard)).filter((array) => devices.includes(array.device));
      deps.progress(resyncProgress(arrays, devices));
      if (arrays.every((array) => array.sync === null)) {
        log.info({ arrays: devices, seconds: Math.round((Date.now() - started) / 1000) }, arrays.length === devices.length ? 'software RAID arrays in sync' : 'software RAID arrays gone before their resync ended');
        return;
      }
      await sleep(RESYNC_POLL_MS, undefined, { signal });
    }
  } catch (error) {
    if (signal.aborted) return;
    log.warn({ err: error }, 'stopped following the RAID resync');
  }
}

/** One item per array: its resync (or recovery) state, and the total as the command's own done/total in KiB. */
export function resyncProgress(arrays: readonly MdArray[], devices: readonly string[]): CommandProgress {
  const items: CommandProgressItem[] = devices.map((device) => {
    const array = arrays.find((a) => a.device === device);
    const name = array?.name ? `${device} (${array.name})` : device;
    if (!array) return { name, stage: 'gone' };
    const sync = array.sync;
    if (!sync) return { name, stage: 'in sync' };
    if (sync.state !== 'running') return { name, stage: `${sync.action} ${sync.state}` };
    const finish = sync.finishMinutes === null ? '' : `, ${sync.finishMinutes} min left`;
    return {
      name, stage: sync.action, unit: 'KiB',
      ...(sync.doneKiB !== null && sync.totalKiB !== null ? { done: sync.doneKiB, total: sync.totalKiB } : {}),
      message: `${sync.percent ?? '?'}%${finish}${sync.speedKiBPerSecond ? ` at ${Math.round(sync.speedKiBPerSecond / 1024)} MiB/s` : ''}`,
    };
  });
  const syncing = items.filter((item) => item.stage !== 'in sync' && item.stage !== 'gone');
  const done = items.reduce((sum, item) => sum + (item.done ?? 0), 0);
  const total = items.reduce((sum, item) => sum + (item.total ?? 0), 0);
  return {
    stage: syncing.length === 0 ? 'software RAID in sync' : 'software RAID resync',
    ...(total > 0 ? { done, total, unit: 'KiB' } : {}),
    message: items.map((item) => `${item.name}: ${item.stage}${item.message ? ` ${item.message}` : ''}`).join('; '),
    items,
  };
}
