import fc from 'fast-check';
import { expect, it } from 'vitest';
import { IngotError } from '@ingot/protocol';
import { fuzz } from '../../../test/support/fuzz.ts';
import type { BlockDevice } from '../disks/block-devices.ts';
import { deviceMatchesHints, type RootDeviceHints } from '../disks/root-device-hints.ts';
import { MIN_MEMBERS, parseRaidConfig } from '../disks/raid-config.ts';
import { planRaid } from './raid-plan.ts';

const MiB = 1024 ** 2;
const names = ['/dev/sda', '/dev/sdb', '/dev/sdc', '/dev/sdd', '/dev/nvme0n1', '/dev/vda'];

/** Mostly valid values, with an invalid one now and then, so that about one input in ten makes a plan whose invariants are checked (the rest test the refusals). */
const mostly = <T, U>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<U>) => fc.oneof({ arbitrary: valid, weight: 30 }, { arbitrary: invalid, weight: 1 });
/** A field that is usually absent. */
const sometimes = <T>(present: fc.Arbitrary<T>, weight = 1) => fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, { arbitrary: present, weight });
const diskArb = fc.record({
  sizeMiB: mostly(fc.integer({ min: 2 * 1024, max: 600 * 1024 }), fc.integer({ min: 1, max: 2048 })),
  rotational: fc.boolean(),
  readOnly: mostly(fc.constant(false), fc.constant(true)),
  model: fc.constantFrom('SSD', 'HDD', null),
});
const disksArb = fc.uniqueArray(fc.constantFrom(...names), { minLength: 1, maxLength: 6 }).chain((chosen) =>
  fc.tuple(...chosen.map(() => diskArb)).map((specs) => specs.map((spec, i): BlockDevice => ({
    name: chosen[i]!, type: 'disk', size: spec.sizeMiB * MiB, logicalSectorSize: 512, physicalSectorSize: 4096, rotational: spec.rotational,
    readOnly: spec.readOnly, model: spec.model, vendor: null, serial: null, wwn: null, tran: null, hctl: null, byPath: null,
  }))));
const hintArb = mostly(
  fc.oneof(fc.constantFrom(...names).map((name) => ({ name })), fc.boolean().map((rotational) => ({ rotational })), fc.constantFrom('SSD', 'HDD').map((model) => ({ model }))),
  fc.constantFrom({ size: '>= 100' }, { nmae: 'x' }, {}, 'x', null),
);
const logicalDiskArb = fc.record({
  controller: mostly(fc.constant('software'), fc.constantFrom('hw', undefined)),
  size_gb: mostly(fc.oneof({ arbitrary: fc.integer({ min: 1, max: 200 }), weight: 4 }, { arbitrary: fc.constant('MAX'), weight: 1 }), fc.constantFrom(-1, 0, '10', '1.5', null, 1e6)),
  raid_level: mostly(fc.constantFrom('0', '1', '1+0', '10', '5', '6'), fc.constantFrom('2', '5+0', 1, null)),
  volume_name: sometimes(mostly(fc.constantFrom('root', 'data', 'esp', 'scratch', 'boot', 'logs', 'db', 'tmp'), fc.constantFrom('a b', '')), 2),
  is_root_volume: sometimes(mostly(fc.boolean(), fc.constantFrom('yes', 3))),
  physical_disks: sometimes(fc.array(hintArb, { minLength: 1, maxLength: 5 }), 2),
  number_of_physical_disks: sometimes(fc.integer({ min: 0, max: 7 })),
}, { requiredKeys: ['controller', 'size_gb', 'raid_level'] });
const skipArb = fc.array(fc.constantFrom(...names).map((name): RootDeviceHints => ({ name: `s== ${name}` })), { maxLength: 2 });

it('plans any configuration on any disks, or refuses it naming a logical disk; a plan never overlaps, overflows or touches what it must not', async () => {
  await fuzz('software RAID plan of any target_raid_config', 1_500, fc.property(
    fc.array(logicalDiskArb, { minLength: 1, maxLength: 3 }), disksArb, skipArb, fc.constantFrom('uefi', 'bios'), fc.constantFrom('gpt', 'msdos'),
    (logicalDisks, disks, skip, bootMode, label) => {
      let plan;
      try {
        const config = parseRaidConfig({ logical_disks: logicalDisks });
        if (!config) return;
        plan = planRaid({ config, disks, skip, bootMode: bootMode as 'uefi' | 'bios', label: label as 'gpt' | 'msdos' });
      } catch (error) {
        expect(error).toBeInstanceOf(IngotError);
        expect((error as IngotError).code).toBe('INGOT_RAID_CONFIG_INVALID');
        expect((error as IngotError).details).toMatch(/^target_raid_config(\.logical_disks\[\d+\]| must|\.logical_disks must)|^\d+ volumes share /);
        return;
      }
      for (const volume of plan.volumes) {
        const members = volume.members.map((m) => m.disk);
        expect(new Set(members).size).toBe(members.length);
        expect(members.length).toBeGreaterThanOrEqual(MIN_MEMBERS[volume.logicalDisk.level]);
        for (const disk of members) {
          expect(disk.readOnly).toBe(false);
          expect(skip.some((hints) => deviceMatchesHints(disk, hints))).toBe(false);
        }
      }
      for (const planned of plan.disks) {
        let end = planned.dataStart;
        for (const { partition } of planned.partitions) {
          expect(partition.start).toBeGreaterThanOrEqual(end);
          expect(partition.start % MiB).toBe(0);
          expect(partition.size).toBeGreaterThan(0);
          end = partition.start + partition.size;
        }
        expect(end).toBeLessThanOrEqual(planned.disk.size - MiB);
        if (label === 'msdos') expect(planned.partitions.length).toBeLessThanOrEqual(4);
      }
    },
  ));
});
