import { eraseDevicesMetadata } from '../disks/erase-metadata.ts';
import type { StepContext, StepDefinition } from '../hardware/manager.ts';

/** Driver-internal knobs Ironic sends with the node (ironic-conductor.md §4). */
function driverInternal(ctx: StepContext): Record<string, unknown> {
  return (ctx.node.driver_internal_info as Record<string, unknown> | undefined) ?? {};
}

const eraseMetadata = (ctx: StepContext) =>
  eraseDevicesMetadata(ctx, {
    skipReadOnly: driverInternal(ctx).agent_erase_skip_read_only === true,
    progress: ctx.progress,
    signal: ctx.signal,
  });

/**
 * `erase_devices_metadata` as IPA offers it (ipa-protocol.md 5.6, 6): a clean
 * step at priority 99 (automated cleaning), and a deploy and a service step
 * at priority 0 (run only when asked for).
 */
export function eraseSteps(): StepDefinition[] {
  const step = { name: 'erase_devices_metadata', interface: 'deploy', rebootRequested: false, run: eraseMetadata } as const;
  return [
    { ...step, kind: 'clean', priority: 99, abortable: true },
    { ...step, kind: 'deploy', priority: 0, abortable: false },
    { ...step, kind: 'service', priority: 0, abortable: true },
  ];
}
