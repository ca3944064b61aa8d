import type { BlockDevices } from '../disks/block-devices.ts';
import type { PowerControl } from '../power/power-control.ts';
import type { System } from '../system/system.ts';
import { defineExtension, type Extension } from './command.ts';

export interface StandbyDeps {
  system: System;
  devices: BlockDevices;
  power: PowerControl;
  /** Partition UUIDs recorded by the last image write; `{}` until then (4.1). */
  partitionUuids(): Record<string, unknown>;
  /** The power action is done; when no power cut follows, the agent starts over (issue: recovery). */
  afterPowerAction(action: 'power_off' | 'run_image'): void;
}

/** Flushes everything to the disks: `sync`, then each block device's buffers (IPA's full_sync). */
export async function syncDisks(system: System, devices: BlockDevices): Promise<void> {
  await system.run(['sync']);
  for (const disk of await devices.listDisks()) {
    if (disk.type !== 'file') await system.run(['blockdev', '--flushbufs', disk.name], { allowFailure: true });
  }
}

export function createStandbyExtension(deps: StandbyDeps): Extension {
  const powerCommand = (name: 'power_off' | 'run_image') => ({
    name,
    mode: 'async' as const,
    async run() {
      await syncDisks(deps.system, deps.devices);
      await (name === 'power_off' ? deps.power.powerOff() : deps.power.reboot());
      deps.afterPowerAction(name);
      return null;
    },
  });
  return defineExtension('standby', [
    powerCommand('power_off'),
    powerCommand('run_image'),
    { name: 'sync', mode: 'sync', async run() { await syncDisks(deps.system, deps.devices); return null; } },
    { name: 'get_partition_uuids', mode: 'sync', async run() { return deps.partitionUuids(); } },
  ]);
}
