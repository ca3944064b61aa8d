/**
 * The fake agent's default commands: step listing and execution that behave
 * like IPA's (ipa-protocol.md §4.1, §4.2), and no-op standby/log/rescue commands.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { IngotError, type StepDescription } from '@ingot/protocol';
import type { FakeAgentOptions, FakeCommandHandler } from './fake-agent-server.ts';

export const FAKE_MANAGER = 'FakeHardwareManager';

const defaultSteps: StepDescription[] = [
  { step: 'erase_devices_metadata', priority: 99, interface: 'deploy', reboot_requested: false, abortable: true },
  { step: 'erase_devices', priority: 0, interface: 'deploy', reboot_requested: false, abortable: true },
];

function sameVersion(a: unknown, b: Record<string, string>): boolean {
  return JSON.stringify(Object.entries((a ?? {}) as object).sort()) === JSON.stringify(Object.entries(b).sort());
}

export function defaultFakeHandlers(options: FakeAgentOptions): Record<string, FakeCommandHandler> {
  const steps = options.steps ?? defaultSteps;
  const version = options.hardwareManagerVersion ?? { [FAKE_MANAGER]: '1.0' };
  const duration = options.stepDurationMs ?? 20;

  const getSteps = (kind: 'clean' | 'deploy'): FakeCommandHandler => () => ({
    [`${kind}_steps`]: { [FAKE_MANAGER]: steps },
    hardware_manager_version: version,
  });

  const executeStep = (kind: 'clean' | 'deploy'): FakeCommandHandler => async (params, context) => {
    const requested = params[`${kind}_version`];
    // IPA compares only when a version was sent (null skips the check).
    if (requested !== null && requested !== undefined && !sameVersion(requested, version)) {
      throw new IngotError('INGOT_VERSION_MISMATCH', { details: `expected ${JSON.stringify(version)}, got ${JSON.stringify(requested)}` });
    }
    const step = params.step as { step?: unknown } | undefined;
    if (typeof step?.step !== 'string') throw new IngotError('INGOT_INVALID_PARAMS', { details: 'step.step is required' });
    if (!steps.some((known) => known.step === step.step)) {
      throw new IngotError('INGOT_STEP_NOT_FOUND', { details: `no manager handles ${step.step}` });
    }
    context.setProgress({ stage: step.step, done: 0, total: 1, unit: 'devices' });
    await sleep(duration);
    context.setProgress({ stage: step.step, done: 1, total: 1, unit: 'devices' });
    return { [`${kind}_result`]: null, [`${kind}_step`]: step };
  };

  const nothing: FakeCommandHandler = () => null;
  return {
    'clean.get_clean_steps': getSteps('clean'),
    'clean.execute_clean_step': executeStep('clean'),
    'deploy.get_deploy_steps': getSteps('deploy'),
    'deploy.execute_deploy_step': executeStep('deploy'),
    'standby.get_partition_uuids': () => ({ 'root uuid': '00000000-0000-4000-8000-000000000001' }),
    'standby.sync': nothing,
    'standby.power_off': nothing,
    'standby.run_image': nothing,
    'image.install_bootloader': nothing,
    'log.collect_system_logs': () => ({ system_logs: Buffer.from('fake logs').toString('base64') }),
    'rescue.finalize_rescue': nothing,
  };
}
