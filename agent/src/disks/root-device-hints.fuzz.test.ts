import fc from 'fast-check';
import { expect, it } from 'vitest';
import { fuzz } from '../../../test/support/fuzz.ts';
import { mutated, oddString, oddValue, parsesOrRefuses } from '../../../test/support/fuzz-inputs.ts';
import { HINT_TYPES, parseRootDeviceHints, selectRootDevice, type HintCandidate } from './root-device-hints.ts';
import { matchSpec, specOperator } from './specs-matcher.ts';

const GiB = 1024 ** 3;
const hintNames = Object.keys(HINT_TYPES);
const operators = ['==', '=', '!=', '>=', '<=', '>', '<', 's==', 's!=', 's<=', 's<', 's>=', 's>', '<in>', '<all-in>', '<or>'];

/** Spec strings near the grammar: operators in every place, values with spaces, unicode and numbers. */
const spec = fc.oneof(
  oddString,
  fc.array(fc.oneof(fc.constantFrom(...operators), oddString, fc.integer().map(String), fc.constant(' ')), { maxLength: 6 }).map((parts) => parts.join(' ')),
  fc.array(fc.oneof(fc.constantFrom(...operators), fc.string({ maxLength: 6 })), { maxLength: 6 }).map((parts) => parts.join('')),
);

/**
 * Attribute values that are atoms: what a disk reports and a hint names exactly. In oslo's grammar an
 * operand never starts with an operator's text, so a vendor "<" cannot be named in `<or> <` (IPA neither).
 */
const attribute = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 16 })
  .filter((s) => s.trim() !== '' && specOperator(s.trim().toLowerCase()) === null && !/^\s*(<|>|=|!|s[=!<>])/i.test(s));

const device = fc.record({
  name: fc.stringMatching(/^\/dev\/[a-z]{2,4}[0-9]?$/), size: fc.oneof(fc.integer({ min: 0, max: 4096 }).map((g) => g * GiB), fc.nat()),
  rotational: fc.boolean(), readOnly: fc.boolean(),
  model: fc.option(attribute), vendor: fc.option(attribute), serial: fc.option(attribute), wwn: fc.option(attribute),
  tran: fc.option(attribute), hctl: fc.option(attribute), byPath: fc.option(attribute),
}).map((d): HintCandidate => ({ ...d, type: 'disk', logicalSectorSize: 512, physicalSectorSize: 4096 }));

it('parses any value given as root device hints into hints or a 400 naming the hint', async () => {
  await fuzz('parseRootDeviceHints on any value', 250, fc.property(
    fc.oneof(oddValue, mutated({ model: 'Samsung SSD', size: '>= 100', rotational: false, serial: '<in> S3Z9' }, hintNames, fc.oneof(oddValue, spec))),
    (raw) => {
      const outcome = parsesOrRefuses(() => parseRootDeviceHints(raw), ['INGOT_INVALID_PARAMS'], /root device hint/);
      if ('value' in outcome && outcome.value) {
        for (const [name, value] of Object.entries(outcome.value)) {
          expect(hintNames).toContain(name);
          expect(typeof value).toBe(name === 'rotational' ? 'boolean' : 'string');
        }
      }
    },
  ));
});

it('chooses a writable disk from the list for any hints, or answers INGOT_DEVICE_NOT_FOUND', async () => {
  await fuzz('selectRootDevice on any disks and hints', 250, fc.property(
    fc.array(device, { maxLength: 5 }),
    fc.oneof(oddValue, fc.dictionary(fc.constantFrom(...hintNames), fc.oneof(spec, fc.boolean(), fc.integer()), { maxKeys: 3 })),
    (devices, hints) => {
      const outcome = parsesOrRefuses(() => selectRootDevice(devices, hints), ['INGOT_DEVICE_NOT_FOUND'], /root device hints|no suitable disk/);
      if ('value' in outcome) {
        expect(devices).toContain(outcome.value);
        expect(outcome.value.readOnly).toBe(false);
      }
    },
  ));
});

it('finds a disk by its own model, serial, name or size, whatever characters they hold', async () => {
  await fuzz('a root device hint naming a disk\'s own attribute finds a disk with it', 200, fc.property(
    fc.array(device, { minLength: 1, maxLength: 5 }).map((ds) => ds.map((d) => ({ ...d, readOnly: false }))),
    fc.nat(), fc.constantFrom('model', 'serial', 'name', 'vendor', 'size'), fc.constantFrom('', 's== ', '<in> ', '<or> '),
    (devices, pick, hint, op) => {
      const target = devices[pick % devices.length]!;
      const value = hint === 'size' ? target.size / GiB : target[hint as 'model'];
      fc.pre(value !== null && (hint !== 'size' || Number.isInteger(value) && (value as number) > 0));
      const chosen = selectRootDevice(devices, { [hint]: hint === 'size' ? value : `${op}${value}` });
      if (hint === 'size') expect(chosen.size).toBe(target.size);
      // `<in>` is a substring match (oslo's specs matcher): another disk whose attribute holds the value may come first.
      else if (op === '<in> ') expect(String(chosen[hint as 'model']).toLowerCase()).toContain(String(value).trim().toLowerCase());
      else expect(String(chosen[hint as 'model']).trim().toLowerCase()).toBe(String(value).trim().toLowerCase());
    },
  ));
});

it('matches any value against any spec without throwing', async () => {
  await fuzz('matchSpec on any spec', 150, fc.property(fc.oneof(oddString, fc.double()), spec, (value, text) => {
    const started = performance.now();
    expect(typeof matchSpec(value, text)).toBe('boolean');
    expect(performance.now() - started).toBeLessThan(2_000);
  }));
});
