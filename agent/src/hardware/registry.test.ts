import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { isIngotError } from '@ingot/protocol';
import { createBlockDevices } from '../disks/create-block-devices.ts';
import { createDeviceGuard } from '../system/device-guard.ts';
import { createFakeSystem, type FakeSystem } from '../testing.ts';
import { NOT_SUPPORTED, SupportLevel, type HardwareContext, type HardwareManager, type StepDefinition } from './manager.ts';
import { createManagerRegistry } from './registry.ts';

const log = pino({ level: 'silent' });
const node = { uuid: '1be26c0b-03f2-4d4e-9e8c-5f1b5c1b0a01' };

/** A host as the fake System shows it: the DMI vendor string, and the vendor's RAID tool only where `vendorTool`. */
function hostContext(options: { vendor?: string; vendorTool?: boolean } = {}): HardwareContext & { system: FakeSystem } {
  const system = createFakeSystem({
    files: { '/sys/class/dmi/id/sys_vendor': `${options.vendor ?? 'Lenovo'}\n` },
    tools: options.vendorTool ? ['vendor-raid'] : [],
  });
  return { system, devices: createBlockDevices({ system, guard: createDeviceGuard({ mode: 'sandbox', disks: [] }) }), log };
}

const stepContext = (ctx: HardwareContext) => ({ ...ctx, node, ports: [], signal: new AbortController().signal, progress: () => undefined });

/** Every step run, as "<manager>.<step>", in order. */
type Journal = string[];

function step(manager: string, name: string, journal: Journal, run: () => unknown = () => `${manager} ran ${name}`, overrides: Partial<StepDefinition> = {}): StepDefinition {
  return {
    name, kind: 'clean', priority: 10, interface: 'deploy', abortable: true, rebootRequested: false,
    run: async () => {
      journal.push(`${manager}.${name}`);
      return run();
    },
    ...overrides,
  };
}

interface ManagerSpec {
  name: string;
  version?: string;
  support: HardwareManager['evaluateSupport'];
  steps?: (journal: Journal, name: string) => StepDefinition[];
}

/** Managers that record their support evaluations, initializations and step runs. */
function managers(specs: ManagerSpec[]) {
  const journal: Journal = [];
  const evaluated: string[] = [];
  const initialized: string[] = [];
  const list = specs.map(({ name, version = '1.0', support, steps = () => [] }): HardwareManager => ({
    name,
    version,
    evaluateSupport: (ctx) => {
      evaluated.push(name);
      return support(ctx);
    },
    initialize: async () => {
      initialized.push(name);
    },
    steps: steps(journal, name),
  }));
  return { list, journal, evaluated, initialized };
}

async function refusalOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => { throw new Error('expected a refusal, but it succeeded'); }, (error: unknown) => error);
}

describe('createManagerRegistry', () => {
  it('hands a step to the next manager when the best one answers NOT_SUPPORTED, and stops at the first that runs it', async () => {
    const ctx = hostContext({ vendorTool: false });
    const { list, journal } = managers([
      { name: 'generic', support: () => SupportLevel.GENERIC, steps: (j, m) => [step(m, 'erase_devices', j)] },
      // Claims the hardware, but its tool is missing on this host: "not here", as a value.
      { name: 'vendor', support: () => SupportLevel.SERVICE_PROVIDER, steps: (j, m) => [step(m, 'erase_devices', j, () => NOT_SUPPORTED)] },
      { name: 'mainline', support: () => SupportLevel.MAINLINE, steps: (j, m) => [step(m, 'erase_devices', j, async () => (await ctx.system.hasTool('vendor-raid')) ? 'used vendor-raid' : NOT_SUPPORTED)] },
    ]);
    const registry = await createManagerRegistry(list, ctx);

    const result = await registry.runStep('clean', { step: 'erase_devices' }, stepContext(ctx));

    expect(result).toBe('generic ran erase_devices');
    expect(journal).toEqual(['vendor.erase_devices', 'mainline.erase_devices', 'generic.erase_devices']);
  });

  it('runs the best manager\'s step alone when it supports it, and answers null for a step that returns nothing', async () => {
    const ctx = hostContext({ vendorTool: true });
    const { list, journal } = managers([
      { name: 'generic', support: () => SupportLevel.GENERIC, steps: (j, m) => [step(m, 'erase_devices', j), step(m, 'sync', j, () => undefined)] },
      { name: 'mainline', support: () => SupportLevel.MAINLINE, steps: (j, m) => [step(m, 'erase_devices', j, async () => (await ctx.system.hasTool('vendor-raid')) ? 'used vendor-raid' : NOT_SUPPORTED)] },
    ]);
    const registry = await createManagerRegistry(list, ctx);

    expect(await registry.runStep('clean', { step: 'erase_devices' }, stepContext(ctx))).toBe('used vendor-raid');
    expect(await registry.runStep('clean', { step: 'sync' }, stepContext(ctx))).toBeNull();
    expect(journal).toEqual(['mainline.erase_devices', 'generic.sync']);
  });

  it('drops a manager whose support is 0: its steps are neither listed nor run, its version not reported', async () => {
    // The vendor manager answers by the DMI vendor the fake System shows; this host is not its make.
    const ctx = hostContext({ vendor: 'Dell Inc.' });
    const { list, journal } = managers([
      { name: 'generic', support: () => SupportLevel.GENERIC, steps: (j, m) => [step(m, 'erase_devices', j)] },
      {
        name: 'vendor',
        support: async ({ system }) => ((await system.readText('/sys/class/dmi/id/sys_vendor')).trim() === 'Lenovo' ? SupportLevel.SERVICE_PROVIDER : SupportLevel.NONE),
        steps: (j, m) => [step(m, 'erase_devices', j), step(m, 'vendor_only', j)],
      },
    ]);
    const registry = await createManagerRegistry(list, ctx);

    expect(registry.active.map(({ manager }) => manager.name)).toEqual(['generic']);
    expect(registry.steps('clean')).toEqual({ generic: [expect.objectContaining({ step: 'erase_devices' })] });
    expect(registry.versions()).toEqual({ generic: '1.0' });
    expect(await registry.runStep('clean', { step: 'erase_devices' }, stepContext(ctx))).toBe('generic ran erase_devices');
    expect(await refusalOf(registry.runStep('clean', { step: 'vendor_only' }, stepContext(ctx)))).toSatisfy((error) => isIngotError(error, 'INGOT_STEP_NOT_FOUND'));
    expect(journal).toEqual(['generic.erase_devices']);
  });

  it('lists and runs the same manager\'s steps once it has the support of its make', async () => {
    const ctx = hostContext({ vendor: 'Lenovo' });
    const { list } = managers([
      { name: 'generic', support: () => SupportLevel.GENERIC, steps: (j, m) => [step(m, 'erase_devices', j)] },
      {
        name: 'vendor',
        support: async ({ system }) => ((await system.readText('/sys/class/dmi/id/sys_vendor')).trim() === 'Lenovo' ? SupportLevel.SERVICE_PROVIDER : SupportLevel.NONE),
        steps: (j, m) => [step(m, 'erase_devices', j), step(m, 'vendor_only', j)],
      },
    ]);
    const registry = await createManagerRegistry(list, ctx);

    expect(registry.steps('clean')).toEqual({ vendor: [expect.objectContaining({ step: 'erase_devices' }), expect.objectContaining({ step: 'vendor_only' })] });
    expect(await registry.runStep('clean', { step: 'vendor_only' }, stepContext(ctx))).toBe('vendor ran vendor_only');
  });

  it('refuses two managers with the same name before evaluating or initializing any', async () => {
    const ctx = hostContext();
    const { list, evaluated, initialized } = managers([
      { name: 'generic', support: () => SupportLevel.GENERIC },
      { name: 'vendor', support: () => SupportLevel.SERVICE_PROVIDER },
      { name: 'generic', support: () => SupportLevel.MAINLINE },
    ]);

    const error = await refusalOf(createManagerRegistry(list, ctx));

    expect(isIngotError(error, 'INGOT_CONFIG_INVALID')).toBe(true);
    expect((error as Error).message).toBe('Invalid configuration: two hardware managers are named "generic"');
    expect(evaluated).toEqual([]);
    expect(initialized).toEqual([]);
  });

  it('orders the active managers by support, highest first, and keeps the registration order between equals', async () => {
    const ctx = hostContext();
    const { list } = managers([
      { name: 'generic', support: () => SupportLevel.GENERIC },
      { name: 'rack-b', support: () => SupportLevel.MAINLINE },
      { name: 'rack-a', support: () => SupportLevel.MAINLINE },
      { name: 'site', support: () => 7 },
      { name: 'vendor', support: async () => SupportLevel.SERVICE_PROVIDER },
    ]);

    const registry = await createManagerRegistry(list, ctx);

    expect(registry.active.map(({ manager, support }) => [manager.name, support])).toEqual([
      ['site', 7], ['vendor', 3], ['rack-b', 2], ['rack-a', 2], ['generic', 1],
    ]);
  });

  it('evaluates every manager once, and initializes only the active ones, in their order', async () => {
    const ctx = hostContext();
    const { list, evaluated, initialized } = managers([
      { name: 'generic', support: () => SupportLevel.GENERIC },
      { name: 'absent', support: () => SupportLevel.NONE },
      { name: 'vendor', support: () => SupportLevel.SERVICE_PROVIDER },
    ]);

    const registry = await createManagerRegistry(list, ctx);
    registry.steps('clean');
    registry.versions();

    expect(evaluated).toEqual(['generic', 'absent', 'vendor']);
    expect(initialized).toEqual(['vendor', 'generic']);
  });

  it('refuses with INGOT_STEP_NOT_FOUND a step no active manager has, one only of another kind, and one every manager declines', async () => {
    const ctx = hostContext();
    const { list, journal } = managers([
      { name: 'generic', support: () => SupportLevel.GENERIC, steps: (j, m) => [step(m, 'erase_devices', j, () => NOT_SUPPORTED), step(m, 'write_image', j, undefined, { kind: 'deploy' })] },
      { name: 'vendor', support: () => SupportLevel.SERVICE_PROVIDER, steps: (j, m) => [step(m, 'erase_devices', j, () => NOT_SUPPORTED)] },
    ]);
    const registry = await createManagerRegistry(list, ctx);

    for (const [kind, name] of [['clean', 'no_such_step'], ['clean', 'write_image'], ['clean', 'erase_devices']] as const) {
      const error = await refusalOf(registry.runStep(kind, { step: name }, stepContext(ctx)));
      expect(isIngotError(error, 'INGOT_STEP_NOT_FOUND'), `${kind} step ${name}`).toBe(true);
      expect((error as Error).message).toBe(`No HardwareManager found to handle method: Could not find method: ${name} (no ${kind} step of that name is supported here)`);
    }
    expect(journal).toEqual(['vendor.erase_devices', 'generic.erase_devices']);
  });

  it('reports the name and version of every active manager as hardware_manager_version', async () => {
    const ctx = hostContext();
    const { list } = managers([
      { name: 'generic_hardware_manager', version: '1.2', support: () => SupportLevel.GENERIC },
      { name: 'absent', version: '9.9', support: () => SupportLevel.NONE },
      { name: 'vendor', version: '3.1', support: () => SupportLevel.SERVICE_PROVIDER },
    ]);

    const registry = await createManagerRegistry(list, ctx);

    expect(registry.versions()).toEqual({ generic_hardware_manager: '1.2', vendor: '3.1' });
  });

  it('reports no versions and no steps when no manager supports the hardware', async () => {
    const ctx = hostContext();
    const { list } = managers([{ name: 'absent', support: () => SupportLevel.NONE, steps: (j, m) => [step(m, 'erase_devices', j)] }]);

    const registry = await createManagerRegistry(list, ctx);

    expect(registry.versions()).toEqual({});
    expect(registry.steps('clean')).toEqual({});
  });
});
