import { eraseDevicesMetadata } from './erase-metadata.ts';
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

const cleanStep = (step: Omit<StepDefinition, 'kind' | 'abortable' | 'rebootRequested'>): StepDefinition => ({
  ...step, kind: 'clean', abortable: true, rebootRequested: false,
});

/**
 * The generic hardware manager: what any Linux machine supports. Its steps
 * and default priorities follow IPA's (5.6); more arrive with later issues
 * (erase_devices, RAID, write_image).
 */
export function createGenericManager(): HardwareManager {
  return {
    name: 'generic_hardware_manager',
    version: '1.2',
    evaluateSupport: () => SupportLevel.GENERIC,
    steps: [
      cleanStep({ name: 'erase_devices_metadata', priority: 99, interface: 'deploy', run: eraseMetadata }),
      { name: 'erase_devices_metadata', kind: 'deploy', priority: 0, interface: 'deploy', abortable: false, rebootRequested: false, run: eraseMetadata },
      { name: 'erase_devices_metadata', kind: 'service', priority: 0, interface: 'deploy', abortable: true, rebootRequested: false, run: eraseMetadata },
    ],
  };
}
