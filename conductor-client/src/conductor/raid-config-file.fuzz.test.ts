/**
 * --raid-config's file is outside input read on the command line: whatever it
 * holds, it is Ironic's target_raid_config (an object with a non-empty
 * logical_disks list, sent on unchanged) or one refusal naming the file, on
 * one line, in time; and the agent's apply_configuration result, whatever its
 * shape, is said in one line.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { fuzz } from '../../../test/support/fuzz.ts';
import { jsonText, oddValue, parsesOrRefuses, timed } from '../../../test/support/fuzz-inputs.ts';
import { parseRaidConfigText } from './raid-config-file.ts';
import { describeRaidResult } from './raid-step.ts';

const PATH = '/etc/ingot/raid.json';
/** A logical disk as an operator might write one, right or wrong; `odd` fills the fields that go wrong. */
const logicalDiskOf = (odd: fc.Arbitrary<unknown>) => fc.record({
  volume_name: fc.oneof(fc.string(), odd), raid_level: fc.oneof(fc.constantFrom('0', '1', '1+0', '5', '6', '10'), odd),
  size_gb: fc.oneof(fc.constant('MAX'), fc.nat(), odd), controller: fc.constantFrom('software', 'hardware'),
  is_root_volume: fc.oneof(fc.boolean(), odd), physical_disks: fc.array(fc.dictionary(fc.string(), odd), { maxLength: 4 }),
}, { requiredKeys: [] });
// A file is JSON text: its values are what JSON holds (oddValue's 12,000-deep lists would not survive JSON.stringify).
const logicalDisk = logicalDiskOf(fc.jsonValue({ maxDepth: 3 }));
/** Files: Ironic-shaped configurations (whitespace, a BOM, cut short), and any JSON or none. */
const fileText = fc.oneof(
  jsonText,
  fc.tuple(fc.array(logicalDisk, { maxLength: 4 }), fc.constantFrom(0, 2), fc.boolean(), fc.option(fc.nat(), { nil: undefined }))
    .map(([disks, indent, bom, cut]) => {
      const text = `${bom ? '\uFEFF' : ''}${JSON.stringify({ logical_disks: disks }, null, indent)}`;
      return cut === undefined ? text : text.slice(0, cut % (text.length + 1));
    }),
);

it('reads any file text as a target_raid_config with logical disks, or refuses it once, naming the file, on one line', async () => {
  await fuzz('--raid-config file text', 1_000, fc.property(fileText, (text) => {
    const outcome = parsesOrRefuses(() => parseRaidConfigText(text, PATH), ['INGOT_CONFIG_INVALID'], PATH);
    if ('value' in outcome) {
      expect(outcome.value.logical_disks.length).toBeGreaterThan(0);
      // Sent on as the file holds it: nothing added, nothing dropped.
      expect(outcome.value).toEqual(JSON.parse(text.replace(/^\uFEFF/, '')));
      return;
    }
    expect(outcome.error.details).not.toMatch(/[\n\r\u2028\u2029]/);
    expect(outcome.error.details.split(PATH)).toHaveLength(2);
    if (outcome.error.details.includes('is not JSON')) expect(outcome.error.details).toMatch(/ at line \d+ column \d+$/);
  }));
});

it('says any apply_configuration result in one line', async () => {
  await fuzz('apply_configuration result line', 500, fc.property(fc.oneof(oddValue, fc.record({ logical_disks: fc.array(fc.oneof(logicalDiskOf(oddValue), oddValue), { maxLength: 5 }) })), (result) => {
    const line = timed(() => describeRaidResult(result));
    expect(line).not.toMatch(/[\u0000-\u001f\u007f\u2028\u2029]/);
    expect(line.length).toBeLessThan(2_000);
  }));
});
