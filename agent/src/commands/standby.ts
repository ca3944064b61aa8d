import type { NodeInfo } from '@ingot/protocol';
import type { BlockDevices } from '../disks/block-devices.ts';
import type { PartitionUuids } from '../disks/partition-layout.ts';
import { deployImage, parseDeployRequest } from '../deploy/deploy-image.ts';
import type { ImageDownloadSettings } from '../deploy/deploy-hooks.ts';
import type { PowerControl } from '../power/power-control.ts';
import type { System } from '../system/system.ts';
import { defineExtension, type Extension } from './command.ts';

export interface StandbyDeps {
  system: System;
  devices: BlockDevices;
  power: PowerControl;
  /** Partition UUIDs recorded by the last image write; `{}` until then (4.1). */
  partitionUuids(): Record<string, unknown>;
  recordPartitionUuids(uuids: PartitionUuids): void;
  /** The lookup's `agent_md5_checksum_enable` (9.3). */
  md5Allowed(): boolean;
  download(): ImageDownloadSettings;
  /** The node cached from the lookup or the last step command (IPA's cache_node): its root device hints choose the disk. */
  node(): NodeInfo | undefined;
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
    {
      name: 'prepare_image',
      mode: 'async',
      // A bad image_info is a 400 before anything starts (IPA's validator, 9.2).
      validate(params) {
        parseDeployRequest(params.image_info, { md5Allowed: deps.md5Allowed(), configdrive: params.configdrive });
      },
      async run(params, ctx) {
        const deployed = await deployImage({
          system: deps.system, devices: deps.devices, log: ctx.log, signal: ctx.signal, progress: ctx.progress,
          node: deps.node() ?? { uuid: 'unknown' },
        }, params.image_info, {
          md5Allowed: deps.md5Allowed(),
          configdrive: params.configdrive,
          ...deps.download(),
          beforeWrite: () => deps.recordPartitionUuids({}),
        });
        deps.recordPartitionUuids(deployed.partitionUuids);
        return { result: deployed.result };
      },
    },
    { name: 'get_partition_uuids', mode: 'sync', async run() { return deps.partitionUuids(); } },
  ]);
}
