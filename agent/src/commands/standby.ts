import type { BlockDevices } from '../disks/block-devices.ts';
import { runCacheImage, runImageDeploy, validateCacheImage, validateImageDeploy, type ImageDeployDeps } from '../deploy/deploy-steps.ts';
import type { PowerControl } from '../power/power-control.ts';
import type { Session } from '../session/session.ts';
import type { System } from '../system/system.ts';
import { defineExtension, type CommandContext, type Extension } from './command.ts';

export interface StandbyDeps {
  system: System;
  devices: BlockDevices;
  power: PowerControl;
  /** The node cached from the lookup or the last step command (IPA's cache_node) chooses the disk; the partition UUIDs are read and recorded here. */
  session: Pick<Session, 'node' | 'partitionUuids'> & ImageDeployDeps['session'];
  download: ImageDeployDeps['download'];
  /** The power action is done; when no power cut follows, the agent starts over. */
  afterPowerAction(action: 'power_off' | 'run_image'): void;
}

/** Flushes everything to the disks: `sync`, then each block device's buffers (IPA's full_sync). */
export async function syncDisks(system: System, devices: BlockDevices): Promise<void> {
  await system.run(['sync']);
  for (const disk of await devices.listDisks()) {
    if (disk.type !== 'file') await system.run(['blockdev', '--flushbufs', disk.name], { allowFailure: true });
  }
}

/** IPA's `standby` extension (ipa-protocol.md 4.1), with cache_image, which IPA dropped in 10.0. */
export function createStandbyExtension(deps: StandbyDeps): Extension {
  const { session } = deps;
  const imageDeploy: ImageDeployDeps = { session, download: deps.download };
  const deployContext = (ctx: CommandContext) => ({
    system: deps.system, devices: deps.devices, log: ctx.log, signal: ctx.signal, progress: ctx.progress,
    node: session.node ?? { uuid: 'unknown' },
  });
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
      validate: (params) => validateImageDeploy(params, imageDeploy),
      run: (params, ctx) => runImageDeploy(deployContext(ctx), params, imageDeploy),
    },
    {
      // Removed from IPA in 10.0; Ingot keeps it for fast-track pre-staging (ipa-protocol.md 10.1).
      name: 'cache_image',
      mode: 'async',
      validate: (params) => { validateCacheImage(params, imageDeploy); },
      run: (params, ctx) => runCacheImage(deployContext(ctx), params, imageDeploy),
    },
    { name: 'get_partition_uuids', mode: 'sync', async run() { return session.partitionUuids; } },
  ]);
}
