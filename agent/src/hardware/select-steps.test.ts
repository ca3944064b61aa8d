import { describe, expect, it } from 'vitest';
import { selectSteps, stepRunners } from './select-steps.ts';
import type { ActiveManager, HardwareManager, StepDefinition } from './manager.ts';

const step = (name: string, priority: number, kind: StepDefinition['kind'] = 'clean'): StepDefinition => ({
  name, kind, priority, interface: 'deploy', abortable: true, rebootRequested: false, run: async () => name,
});
const manager = (name: string, steps: StepDefinition[]): HardwareManager => ({ name, version: '1', evaluateSupport: () => 1, steps });
const active = (support: number, m: HardwareManager): ActiveManager => ({ manager: m, support });

describe('selectSteps', () => {
  it('lets the manager with the higher support level win a step, whatever the priorities', () => {
    const generic = active(1, manager('generic', [step('erase', 99)]));
    const vendor = active(3, manager('vendor', [step('erase', 5)]));
    expect(selectSteps([generic, vendor], 'clean')).toEqual({ vendor: [expect.objectContaining({ step: 'erase', priority: 5 })] });
  });

  it('breaks a tie of support levels by the higher priority, then by the manager name', () => {
    const a = active(2, manager('b-mgr', [step('x', 10), step('y', 1)]));
    const b = active(2, manager('a-mgr', [step('x', 20), step('y', 1)]));
    const selected = selectSteps([a, b], 'clean');
    expect(selected['a-mgr']!.map((s) => s.step).sort()).toEqual(['x', 'y']);
    expect(selected['b-mgr']).toBeUndefined();
  });

  it('lists only steps of the asked kind and omits abortable from deploy steps as IPA does', () => {
    const m = active(1, manager('generic', [step('erase', 99, 'clean'), step('erase', 0, 'deploy')]));
    expect(selectSteps([m], 'deploy')).toEqual({ generic: [{ step: 'erase', priority: 0, interface: 'deploy', reboot_requested: false, argsinfo: null }] });
    expect(selectSteps([m], 'clean').generic![0]).toHaveProperty('abortable', true);
  });

  it('gives the same answer whatever order the managers come in', () => {
    const a = active(2, manager('a', [step('s', 1)]));
    const b = active(2, manager('b', [step('s', 1)]));
    expect(selectSteps([a, b], 'clean')).toEqual(selectSteps([b, a], 'clean'));
    expect(stepRunners([b, a], 'clean', 's').map((c) => c.manager)).toEqual(['a', 'b']);
  });
});
