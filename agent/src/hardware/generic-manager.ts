import { deployImage } from '../deploy/deploy-image.ts';
import { eraseDevicesMetadata } from '../disks/erase-metadata.ts';
import { SupportLevel, type HardwareManager, type StepContext, type StepDefinition } from './manager.ts';

/** Driver-internal knobs Ironic sends with the node (ironic-conductor.md §4). */
function driverInternal(ctx: StepContext): Record<string, unknown> {
  return (ctx.node.driver_internal_info as Record<string, unknown> | undefined) ?? {};
}

const eraseMetadata = async (ctx: StepContext) =>
  eraseDevicesMetadata(ctx, {
    skipReadOnly: driverInternal(ctx).agent_erase_skip_read_only === true,
    progress: ctx.progress,
    signal: ctx.signal,
  });

/**
 * IPA's `write_image` deploy step runs `standby.prepare_image` and waits for
 * it, so its result is `{"result":"prepare_image: ..."}` (ipa-protocol.md 4.3).
 */
const writeImageStep = async (ctx: StepContext, args: Record<string, unknown>) => {
  const hooks = ctx.imageDeploy;
  const options = { md5Allowed: hooks?.md5Allowed() ?? false, configdrive: args.configdrive, ...hooks?.download() };
  const deployed = await deployImage(ctx, args.image_info, {
    ...options,
    // The previous image's UUIDs are stale once this write starts (it may wipe the disk).
    beforeWrite: () => hooks?.recordPartitionUuids({}),
  });
  hooks?.recordPartitionUuids(deployed.partitionUuids);
  return { result: deployed.result };
};

const cleanStep = (step: Omit<StepDefinition, 'kind' | 'abortable' | 'rebootRequested'>): StepDefinition => ({
  ...step, kind: 'clean', abortable: true, rebootRequested: false,
});

/**
 * The generic hardware manager: what any Linux machine supports. Its steps
 * and default priorities follow IPA's (5.6); more arrive with later issues
 * (erase_devices, RAID, partition images).
 */
export function createGenericManager(): HardwareManager {
  return {
    name: 'generic_hardware_manager',
    version: '1.2',
    evaluateSupport: () => SupportLevel.GENERIC,
    steps: [
      cleanStep({ name: 'erase_devices_metadata', priority: 99, interface: 'deploy', run: eraseMetadata }),
      { name: 'erase_devices_metadata', kind: 'deploy', priority: 0, interface: 'deploy', abortable: false, rebootRequested: false, run: eraseMetadata },
      {
        name: 'write_image', kind: 'deploy', priority: 0, interface: 'deploy', abortable: false, rebootRequested: false,
        argsinfo: {
          image_info: { description: 'Information about the image to be deployed', required: true },
          configdrive: { description: 'A config drive: an http(s) URL, or base64 of a gzipped ISO 9660 or vfat image (at most 64 MiB)', required: false },
        },
        run: writeImageStep,
      },
      { name: 'erase_devices_metadata', kind: 'service', priority: 0, interface: 'deploy', abortable: true, rebootRequested: false, run: eraseMetadata },
    ],
  };
}
