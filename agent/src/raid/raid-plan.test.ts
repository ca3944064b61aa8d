import { describe, expect, it } from 'vitest';
import { IngotError } from '@ingot/protocol';
import type { HintCandidate } from '../disks/root-device-hints.ts';
import { parseRaidConfig, type RaidConfig } from '../disks/raid-config.ts';
import { dataStartOf, memberBytes, planRaid, type RaidPlanOptions } from './raid-plan.ts';
import { testDisk } from '../disks/test-disk.ts';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

const disk = testDisk;

/** The mixed chassis operators described: two small boot SSDs and four data HDDs. */
const chassis = [
  disk('/dev/sda', 240, { model: 'Micron 5300 BOOT', serial: 'BOOT-A' }),
  disk('/dev/sdb', 240, { model: 'Micron 5300 BOOT', serial: 'BOOT-B' }),
  disk('/dev/sdc', 4000, { model: 'HGST HUS726T4TAL', rotational: true, serial: 'DATA-1' }),
  disk('/dev/sdd', 4000, { model: 'HGST HUS726T4TAL', rotational: true, serial: 'DATA-2' }),
  disk('/dev/sde', 4000, { model: 'HGST HUS726T4TAL', rotational: true, serial: 'DATA-3' }),
  disk('/dev/sdf', 4000, { model: 'HGST HUS726T4TAL', rotational: true, serial: 'DATA-4' }),
];

const config = (logicalDisks: unknown[]): RaidConfig => parseRaidConfig({ logical_disks: logicalDisks })!;
const ld = (fields: Record<string, unknown>) => ({ controller: 'software', ...fields });
const plan = (logicalDisks: unknown[], options: Partial<RaidPlanOptions<HintCandidate>> = {}) =>
  planRaid({ config: config(logicalDisks), disks: chassis, bootMode: 'uefi', label: 'gpt', ...options });

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof IngotError && error.code === 'INGOT_RAID_CONFIG_INVALID') return error.details!;
    throw error;
  }
  throw new Error('not refused');
}

describe('parseRaidConfig', () => {
  it("reads Ironic's logical disks: sizes in GiB or MAX, levels with 1+0 as 10, names, root flag and member hints", () => {
    const parsed = config([
      ld({ size_gb: 100, raid_level: '1', volume_name: 'boot', is_root_volume: true, physical_disks: [{ name: '/dev/sda' }, { name: '/dev/sdb' }] }),
      ld({ size_gb: 'MAX', raid_level: '1+0' }),
    ]);
    expect(parsed.logicalDisks.map(({ index, name, sizeGiB, level, isRoot }) => ({ index, name, sizeGiB, level, isRoot }))).toEqual([
      { index: 0, name: 'boot', sizeGiB: 100, level: '1', isRoot: true },
      { index: 1, name: 'md1', sizeGiB: 'MAX', level: '10', isRoot: undefined },
    ]);
    expect(parsed.logicalDisks[0]!.physicalDisks).toEqual([{ name: 's== /dev/sda' }, { name: 's== /dev/sdb' }]);
  });

  it('does nothing when no logical disk is software RAID, as IPA', () => {
    expect(parseRaidConfig({ logical_disks: [{ size_gb: 100, raid_level: '1', controller: 'RAID.Integrated.1-1' }] })).toBeNull();
  });

  it.each([
    [{ logical_disks: [] }, /logical_disks must be a non-empty list/],
    [{ logical_disks: [ld({ size_gb: 10, raid_level: '2' })] }, /logical_disks\[0\]: raid_level "2" is not a software RAID level; use one of "0", "1", "1\+0"/],
    [{ logical_disks: [ld({ size_gb: 10, raid_level: '5+0' })] }, /raid_level "5\+0" is not a software RAID level/],
    [{ logical_disks: [ld({ size_gb: 0, raid_level: '1' })] }, /logical_disks\[0\]: size_gb must be a positive whole number of GiB or "MAX", got 0/],
    [{ logical_disks: [ld({ size_gb: 1.5, raid_level: '1' })] }, /size_gb must be a positive whole number/],
    [{ logical_disks: [ld({ size_gb: 10, raid_level: '1' }), { size_gb: 10, raid_level: '1', controller: 'hw' }] }, /logical_disks\[1\]: controller must be "software"/],
    [{ logical_disks: [ld({ size_gb: 10, raid_level: '1', volume_name: 'a' }), ld({ size_gb: 10, raid_level: '1', volume_name: 'a' })] }, /logical_disks\[1\] \("a"\): the volume name "a" is already used by logical_disks\[0\]/],
    [{ logical_disks: [ld({ size_gb: 10, raid_level: '1', is_root_volume: true }), ld({ size_gb: 10, raid_level: '1', is_root_volume: true })] }, /at most one volume can be the root/],
    [{ logical_disks: [ld({ size_gb: 10, raid_level: '5', physical_disks: [{ name: '/dev/sda' }, { name: '/dev/sdb' }] })] }, /RAID 5 needs at least 3 member disks, physical_disks lists 2/],
    [{ logical_disks: [ld({ size_gb: 10, raid_level: '1', physical_disks: [{ nmae: '/dev/sda' }, { name: '/dev/sdb' }] })] }, /logical_disks\[0\]: physical_disks\[0\]: the root device hints "nmae" are invalid/],
    [{ logical_disks: [ld({ size_gb: 10, raid_level: '1', sizegb: 3 })] }, /unknown field "sizegb"/],
    [{ logical_disks: [ld({ size_gb: 10, raid_level: '1', volume_name: 'a b' })] }, /volume_name must be 1 to 32 letters/],
  ])('refuses %j', (raw, pattern) => {
    expect(refusal(() => parseRaidConfig(raw))).toMatch(pattern);
  });
});

describe('planRaid', () => {
  it("lays out IPA's usual two volumes on every disk: a RAID 1 root and a RAID 0 of the rest, after a 550 MiB ESP", () => {
    const two = [disk('/dev/vda', 20), disk('/dev/vdb', 20)];
    const result = planRaid({ config: config([ld({ size_gb: 5, raid_level: '1' }), ld({ size_gb: 'MAX', raid_level: '0' })]), disks: two, bootMode: 'uefi', label: 'gpt' });
    expect(result.volumes.map((v) => [v.device, v.members.map((m) => m.disk.name)])).toEqual([['/dev/md0', ['/dev/vda', '/dev/vdb']], ['/dev/md1', ['/dev/vda', '/dev/vdb']]]);
    expect(result.disks[0]!.partitions).toEqual([
      { volume: 0, partition: { number: 2, start: 551 * MiB, size: 5 * GiB } },
      { volume: 1, partition: { number: 3, start: 551 * MiB + 5 * GiB, size: 20 * GiB - MiB - 551 * MiB - 5 * GiB } },
    ]);
  });

  it('puts the boot mirror on the SSDs and a RAID 1+0 of the rest on the HDDs, chosen by hints, and sizes members for the level', () => {
    const result = plan([
      ld({ size_gb: 100, raid_level: '1', volume_name: 'root', is_root_volume: true, physical_disks: [{ rotational: false }, { rotational: false }] }),
      ld({ size_gb: 6000, raid_level: '1+0', volume_name: 'data', physical_disks: [{ rotational: true }, { rotational: true }, { rotational: true }, { rotational: true }] }),
    ]);
    expect(result.volumes.map((v) => v.members.map((m) => m.disk.name))).toEqual([['/dev/sda', '/dev/sdb'], ['/dev/sdc', '/dev/sdd', '/dev/sde', '/dev/sdf']]);
    // RAID 1+0 over four: each member holds half the array.
    expect(result.volumes[1]!.members[0]!.partition).toEqual({ number: 2, start: 551 * MiB, size: 3000 * GiB });
    expect(result.disks.map((d) => d.disk.name)).toEqual(['/dev/sda', '/dev/sdb', '/dev/sdc', '/dev/sdd', '/dev/sde', '/dev/sdf']);
  });

  it('gives a volume without physical_disks the disks no other volume claimed, and lets such volumes share them', () => {
    const result = plan([
      ld({ size_gb: 100, raid_level: '1', volume_name: 'root', physical_disks: [{ rotational: false }, { rotational: false }] }),
      ld({ size_gb: 6000, raid_level: '1+0', volume_name: 'data' }),
      ld({ size_gb: 'MAX', raid_level: '5', volume_name: 'scratch' }),
    ]);
    expect(result.volumes.map((v) => v.members.map((m) => m.disk.name))).toEqual([
      ['/dev/sda', '/dev/sdb'], ['/dev/sdc', '/dev/sdd', '/dev/sde', '/dev/sdf'], ['/dev/sdc', '/dev/sdd', '/dev/sde', '/dev/sdf'],
    ]);
    // The MAX volume follows the sized one on the disks they share.
    expect(result.volumes[2]!.members[0]!.partition).toEqual({ number: 3, start: 551 * MiB + 3000 * GiB, size: 4000 * GiB - MiB - 551 * MiB - 3000 * GiB });
  });

  it('gives each member the share of the array its level needs, in whole MiB', () => {
    expect(memberBytes(100, '1', 2)).toBe(100 * GiB);
    expect(memberBytes(100, '0', 4)).toBe(25 * GiB);
    expect(memberBytes(100, '5', 3)).toBe(50 * GiB);
    expect(memberBytes(100, '6', 4)).toBe(50 * GiB);
    expect(memberBytes(100, '10', 4)).toBe(50 * GiB);
    expect(memberBytes(1, '5', 4) % MiB).toBe(0);
    expect(memberBytes(1, '5', 4)).toBeGreaterThanOrEqual(GiB / 3);
  });

  it('starts data after the boot partitions of the boot mode and table', () => {
    expect([dataStartOf('uefi', 'gpt'), dataStartOf('bios', 'gpt'), dataStartOf('bios', 'msdos')]).toEqual([551 * MiB, 8 * MiB, MiB]);
    const bios = plan([ld({ size_gb: 10, raid_level: '1', physical_disks: [{ name: '/dev/sda' }, { name: '/dev/sdb' }] })], { bootMode: 'bios', label: 'msdos' });
    expect(bios.volumes[0]!.members[0]!.partition).toEqual({ number: 1, start: MiB, size: 10 * GiB });
  });

  it('never takes a read-only disk or one on the skip list, and says so when a volume needs it', () => {
    const disks = [...chassis.slice(0, 2), { ...chassis[2]!, readOnly: true }, ...chassis.slice(3)];
    const result = planRaid({ config: config([ld({ size_gb: 'MAX', raid_level: '0' })]), disks, bootMode: 'uefi', label: 'gpt', skip: [{ name: 's== /dev/sda' }] });
    expect(result.volumes[0]!.members.map((m) => m.disk.name)).toEqual(['/dev/sdb', '/dev/sdd', '/dev/sde', '/dev/sdf']);
    expect(refusal(() => planRaid({ config: config([ld({ size_gb: 10, raid_level: '1', physical_disks: [{ name: '/dev/sda' }, { name: '/dev/sdb' }] })]), disks, bootMode: 'uefi', label: 'gpt', skip: [{ name: 's== /dev/sda' }] })))
      .toBe('target_raid_config.logical_disks[0]: physical_disks[0] {"name":"s== /dev/sda"} matches /dev/sda, on the skip list (skip_block_devices)');
  });

  it.each<[string, unknown[], Partial<RaidPlanOptions<HintCandidate>>, RegExp]>([
    ['too few disks for the level', [ld({ size_gb: 10, raid_level: '6', volume_name: 'boot' })], { disks: chassis.slice(0, 3) },
      /^target_raid_config\.logical_disks\[0\] \("boot"\): RAID 6 needs at least 4 member disks, and only \/dev\/sda, \/dev\/sdb, \/dev\/sdc are eligible/],
    ['a size that does not fit', [ld({ size_gb: 300, raid_level: '1', volume_name: 'root', physical_disks: [{ name: '/dev/sda' }, { name: '/dev/sdb' }] })], {},
      /^target_raid_config\.logical_disks\[0\] \("root"\): 300 GiB of RAID 1 over 2 disks needs 300 GiB on each member, but \/dev\/sda \(240 GiB\) has 239\.5 GiB left after the boot partitions$/],
    ['sizes that do not fit together', [ld({ size_gb: 230, raid_level: '1' }), ld({ size_gb: 100, raid_level: '0', volume_name: 'b' })], {},
      /^target_raid_config\.logical_disks\[1\] \("b"\): 100 GiB of RAID 0 over 6 disks needs 16\.7 GiB on each member, but \/dev\/sda \(240 GiB\) has 9\.5 GiB left after target_raid_config\.logical_disks\[0\]$/],
    ['a hint that matches nothing', [ld({ size_gb: 10, raid_level: '1', physical_disks: [{ serial: 'NOPE' }, { name: '/dev/sdb' }] })], {},
      /^target_raid_config\.logical_disks\[0\]: physical_disks\[0\] \{"serial":"s== nope"\} matches no disk \(the disks: \/dev\/sda, /],
    ['two hints claiming one disk', [ld({ size_gb: 10, raid_level: '1', physical_disks: [{ name: '/dev/sda' }, { name: '/dev/sda' }] })], {},
      /physical_disks\[1\] \{"name":"s== \/dev\/sda"\} matches only \/dev\/sda, already a member of this volume through an earlier hint/],
    ['two MAX volumes on one disk', [ld({ size_gb: 'MAX', raid_level: '1', volume_name: 'a' }), ld({ size_gb: 'MAX', raid_level: '0', volume_name: 'b' })], {},
      /^target_raid_config\.logical_disks\[1\] \("b"\): size_gb is MAX, as is target_raid_config\.logical_disks\[0\] \("a"\), and both use \/dev\/sda; only one volume on a disk can take the rest/],
    ['a MAX volume with no room left', [ld({ size_gb: 5, raid_level: '1' }), ld({ size_gb: 'MAX', raid_level: '1' })], { disks: [disk('/dev/vda', 5 + 600 / 1024), disk('/dev/vdb', 5 + 600 / 1024)] },
      /^target_raid_config\.logical_disks\[1\]: size_gb is MAX but \/dev\/vda has 48 MiB left after target_raid_config\.logical_disks\[0\] \(at least 64 MiB needed\)$/],
    ['the reserved volume name esp', [ld({ size_gb: 10, raid_level: '1', volume_name: 'esp' })], {},
      /^target_raid_config\.logical_disks\[0\]: volume_name "esp" is reserved for the mirror of the EFI system partition/],
    ['two volumes claiming one disk', [ld({ size_gb: 10, raid_level: '1', volume_name: 'root', physical_disks: [{ name: '/dev/sda' }, { name: '/dev/sdb' }] }), ld({ size_gb: 10, raid_level: '1', volume_name: 'data', physical_disks: [{ name: '/dev/sdb' }, { name: '/dev/sdc' }] })], {},
      /^target_raid_config\.logical_disks\[1\] \("data"\): physical_disks\[0\] \{"name":"s== \/dev\/sdb"\} matches only \/dev\/sdb, and \/dev\/sdb is claimed by target_raid_config\.logical_disks\[0\] \("root"\); a disk chosen by physical_disks belongs to one volume/],
    ['five volumes on an msdos disk', Array.from({ length: 5 }, () => ld({ size_gb: 1, raid_level: '1' })), { bootMode: 'bios', label: 'msdos', disks: chassis.slice(0, 2) },
      /5 volumes share \/dev\/sda, more than an msdos partition table's 4 primary partitions/],
    ['more disks asked than eligible', [ld({ size_gb: 10, raid_level: '1', number_of_physical_disks: 7 })], {},
      /logical_disks\[0\]: number_of_physical_disks is 7 but only 6 disks are eligible/],
  ])('refuses %s, naming the volume and the reason', (_what, logicalDisks, options, pattern) => {
    expect(refusal(() => plan(logicalDisks, options))).toMatch(pattern);
  });
});
