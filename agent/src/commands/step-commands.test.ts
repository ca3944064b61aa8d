import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createBlockDevices } from '../disks/create-block-devices.ts';
import { SupportLevel, type HardwareContext } from '../hardware/manager.ts';
import { createManagerRegistry } from '../hardware/registry.ts';
import { createDeviceGuard } from '../system/device-guard.ts';
import { createFakeSystem } from '../testing.ts';
import { createCommandRunner } from './command-runner.ts';
import { createStepExtension } from './step-commands.ts';

const log = pino({ level: 'silent' });
const node = { uuid: '1be26c0b-03f2-4d4e-9e8c-5f1b5c1b0a01' };

async function cleanRunner() {
  const system = createFakeSystem({});
  const hardware: HardwareContext = { system, devices: createBlockDevices({ system, guard: createDeviceGuard({ mode: 'sandbox', disks: [] }) }), log };
  const registry = await createManagerRegistry([{
    name: 'generic_hardware_manager', version: '1.2', evaluateSupport: () => SupportLevel.GENERIC,
    steps: [{ name: 'noop', kind: 'clean', priority: 0, interface: 'deploy', abortable: true, rebootRequested: false, run: async () => 'done' }],
  }], hardware);
  return createCommandRunner({ extensions: [createStepExtension('clean', { registry, hardware })], log });
}

const nested = (depth: number): unknown => {
  let value: unknown = '1.2';
  for (let i = 0; i < depth; i += 1) value = { generic_hardware_manager: value };
  return value;
};

describe('clean_version as the conductor sends it (ipa-protocol.md 4.2)', () => {
  it('runs the step when the versions are the same, whatever their key order', async () => {
    const runner = await cleanRunner();
    const done = await runner.execute('clean.execute_clean_step', { step: { step: 'noop', interface: 'deploy' }, node, clean_version: { generic_hardware_manager: '1.2' } }, { wait: true });
    expect(done.command_status).toBe('SUCCEEDED');
  });

  it('answers any other value, deep or odd, with CLEAN_VERSION_MISMATCH naming it by kind, never a serialising error', async () => {
    const runner = await cleanRunner();
    for (const version of [nested(20_000), ['1.2'], 'generic_hardware_manager', { generic_hardware_manager: 1.2 }, { generic_hardware_manager: '1.2', other: '1' }, { toString: '1.2' }]) {
      const done = await runner.execute('clean.execute_clean_step', { step: { step: 'noop', interface: 'deploy' }, node, clean_version: version }, { wait: true });
      expect(done.command_status, typeof version).toBe('CLEAN_VERSION_MISMATCH');
      expect((done.command_error as { details: string }).details).toMatch(/^conductor expected .{1,400}, agent has \{"generic_hardware_manager":"1.2"\}$/s);
    }
  });
});
