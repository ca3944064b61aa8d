import fc from 'fast-check';
import { expect, it } from 'vitest';
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
  const validators = (['clean', 'deploy', 'service'] as const).map((kind) => createStepExtension(kind, { registry: {} as never, hardware: {} as never }).commands.find((c) => c.name.startsWith('execute_'))!.validate!);
  await fuzz('execute_*_step validation on any params', 100, fc.property(
    fc.constantFrom(...validators),
    mutated({ step: { interface: 'deploy', step: 'write_image', args: {}, priority: 80 }, node: { uuid: 'n' }, ports: [] }, ['deploy_version'], oddValue),
    (validate, params) => {
      parsesOrRefuses(() => validate(params), ['INGOT_INVALID_PARAMS'], /step/);
    },
  ));
});
