import type { StepDefinition } from '../hardware/manager.ts';
import { CAPTURE_ARGSINFO } from './capture-params.ts';
import { runCapture, validateCapture, type SnapshotDeps } from './snapshot-deps.ts';

/**
 * `capture_snapshot`: the capture as a service step (interface deploy,
 * priority 0: run only when asked for), taking the same arguments as
 * `snapshot.capture`; the node of the step request names the disk through
 * its root device hints when the arguments do not.
 */
export function snapshotSteps(deps: SnapshotDeps): StepDefinition[] {
  return [{
    name: 'capture_snapshot',
    kind: 'service',
    interface: 'deploy',
    priority: 0,
    abortable: true,
    rebootRequested: false,
    argsinfo: { ...CAPTURE_ARGSINFO },
    validate: (ctx, args) => validateCapture(ctx, args, deps),
    run: (ctx, args) => runCapture(ctx, args, deps),
  }];
}
