import fc from 'fast-check';
import { expect, it } from 'vitest';
import { IngotError } from '@ingot/protocol';
import { fuzz } from '../../../test/support/fuzz.ts';
import { mutated, oddValue, parsesOrRefuses } from '../../../test/support/fuzz-inputs.ts';
import { createStepExtension } from '../commands/step-commands.ts';
import { parseInstallBootloaderParams } from './install-bootloader.ts';

/** What Ironic 21.4 sends (ironic-conductor.md 1, install_bootloader). */
const valid = { root_uuid: '0x1234abcd', efi_system_part_uuid: 'c0ffee00-1111-2222-3333-444455556666', prep_boot_part_uuid: null, target_boot_mode: 'uefi' };

it('reads any install_bootloader parameters as typed values or a 400 naming the parameter', async () => {
  await fuzz('parseInstallBootloaderParams on any params', 150, fc.property(
    mutated(valid, ['ignore_bootloader_failure'], fc.oneof(oddValue, fc.constantFrom('bios', 'uefi', 'UEFI', 'true', 'no', 1, 0))),
    (params) => {
      const outcome = parsesOrRefuses(() => parseInstallBootloaderParams(params), ['INGOT_INVALID_PARAMS'], /target_boot_mode|ignore_bootloader_failure|root_uuid|efi_system_part_uuid|prep_boot_part_uuid/);
      if (!('value' in outcome)) return;
      expect(['bios', 'uefi']).toContain(outcome.value.targetBootMode);
      for (const uuid of [outcome.value.rootUuid, outcome.value.efiSystemPartUuid, outcome.value.prepBootPartUuid]) expect(uuid === null || typeof uuid === 'string').toBe(true);
    },
  ));
});

it('validates any execute_*_step parameters before the step runs: accepted or a 400 naming "step"', async () => {
  // The registry's own validation (a step's validate hook) is the steps' business: here it accepts, and records what reached it.
  const reached: unknown[] = [];
  const registry = { validateStep: async (_kind: string, step: unknown) => { reached.push(step); } } as never;
  const validators = (['clean', 'deploy', 'service'] as const).map((kind) => createStepExtension(kind, { registry, hardware: {} as never }).commands.find((c) => c.name.startsWith('execute_'))!.validate!);
  await fuzz('execute_*_step validation on any params', 100, fc.asyncProperty(
    fc.constantFrom(...validators),
    mutated({ step: { interface: 'deploy', step: 'write_image', args: {}, priority: 80 }, node: { uuid: 'n' }, ports: [] }, ['deploy_version'], oddValue),
    async (validate, params) => {
      reached.length = 0;
      const started = performance.now();
      try {
        await validate(params);
        // Accepted: a step object with a name, and args an object if given, reached the registry.
        const step = params.step as { step?: unknown; args?: unknown };
        expect(typeof step.step).toBe('string');
        expect(step.args === undefined || step.args === null || (typeof step.args === 'object' && !Array.isArray(step.args))).toBe(true);
        expect(reached).toEqual([step]);
      } catch (error) {
        if (!(error instanceof IngotError)) throw new Error(`threw ${(error as Error)?.constructor?.name ?? typeof error} instead of an IngotError`, { cause: error });
        expect(error.code).toBe('INGOT_INVALID_PARAMS');
        expect(error.message).toMatch(/step/);
        expect(reached).toEqual([]);
      }
      expect(performance.now() - started).toBeLessThan(1000);
    },
  ));
});
