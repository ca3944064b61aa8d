import { deploySteps, type ImageDeployDeps } from './deploy/deploy-steps.ts';
import { eraseSteps } from './erase/erase-steps.ts';
import { SupportLevel, type HardwareManager } from './hardware/manager.ts';
import { raidSteps } from './raid/raid-steps.ts';
import type { SnapshotDeps } from './snapshot/snapshot-deps.ts';
import { snapshotSteps } from './snapshot/snapshot-steps.ts';

export interface GenericManagerDeps {
  deploy: ImageDeployDeps;
  /** The capture_snapshot step's uploader and agent version; without an uploader the step refuses to start. */
  snapshot?: SnapshotDeps;
}

/**
 * The generic hardware manager: what any Linux machine supports, assembled
 * from the capabilities beside the framework (erase/, raid/, deploy/;
 * snapshot/ and kexec/ are the rooms for what comes). Its steps and default
 * priorities follow IPA's (ipa-protocol.md 5.6).
 */
export function createGenericManager(deps: GenericManagerDeps): HardwareManager {
  return {
    name: 'generic_hardware_manager',
    version: '1.2',
    evaluateSupport: () => SupportLevel.GENERIC,
    steps: [...eraseSteps(), ...raidSteps(), ...deploySteps(deps.deploy), ...snapshotSteps(deps.snapshot ?? { agentVersion: 'unknown' })],
  };
}
