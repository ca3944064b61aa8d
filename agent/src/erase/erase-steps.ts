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
 * step at priority 99 (automated cleaning) and a deploy step at priority 0
 * (run only when asked for). Not a service step: servicing works on an active
 * node, and IPA offers no erase step there (5.6).
 */
export function eraseSteps(): StepDefinition[] {
  const step = { name: 'erase_devices_metadata', interface: 'deploy', rebootRequested: false, run: eraseMetadata } as const;
  return [
    { ...step, kind: 'clean', priority: 99, abortable: true },
    { ...step, kind: 'deploy', priority: 0, abortable: false },
  ];
}
