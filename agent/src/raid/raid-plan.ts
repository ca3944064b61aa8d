import { deviceMatchesHints, type HintCandidate, type RootDeviceHints } from '../disks/root-device-hints.ts';
import type { BootMode, DiskLabel } from '../disks/partition-layout.ts';
import { levelName, MIN_MEMBERS, raidConfigError, type LogicalDisk, type RaidConfig, type RaidLevel } from '../disks/raid-config.ts';

/**
 * Where every array of a target_raid_config goes (ipa-protocol.md §8.3, and
 * beyond it): which disks each logical disk is built from, and the partition
 * each member gets. Pure: it runs on the disk list before anything is
 * written, so a configuration that cannot be built is refused (400, naming
 * the volume and the reason) with every disk untouched.
 *
 * - Members: a logical disk with `physical_disks` takes, for each hint set,
 *   the first eligible disk matching it that no volume has taken by hints yet:
 *   two volumes cannot claim one disk. One without takes every eligible disk
 *   no other volume claimed (or the first `number_of_physical_disks`), as IPA
 *   takes every disk. Eligible: writable, not matched by the skip list.
 *   Volumes without hints share disks: each gets its own partition there.
 * - Layout on each disk: room for the boot partitions first (UEFI: a 550 MiB
 *   ESP from 1 MiB, so data from 551 MiB; BIOS on GPT: up to 8 MiB; msdos:
 *   from 1 MiB), then the volumes in configuration order, a MAX volume last
 *   (as IPA moves it), 1 MiB kept at the end for GPT's backup table.
 * - Member size: what gives the array `size_gb` GiB: the size for RAID 1, the
 *   size over n for RAID 0, over n-1 for RAID 5, over n-2 for RAID 6, twice the
 *   size over n for RAID 1+0 (mdadm's near-2 layout), in whole MiB, rounded up.
 *   mdadm's own metadata comes out of it, as in IPA.
 */
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
/** The least a MAX volume's member partition may be. */
export const MIN_MAX_PARTITION_BYTES = 64 * MiB;
const END_RESERVE = MiB;

export interface RaidPlanOptions<D extends HintCandidate> {
  config: RaidConfig;
  /** The disks the agent may act on, in list order. */
  disks: readonly D[];
  /** Disks never to touch (Ironic's skip_block_devices: hint sets; volume_name entries keep arrays and are for delete_configuration). */
  skip?: readonly RootDeviceHints[];
  bootMode: BootMode;
  /** The partition table of every member: GPT for UEFI; msdos for BIOS unless the disk_label capability says gpt. */
  label: DiskLabel;
}

export interface PlannedPartition {
  /** 1-based number on its disk (the boot partitions come first). */
  number: number;
  start: number;
  /** Bytes; a MAX volume's partition runs to the disk's end reserve. */
  size: number;
}

export interface PlannedVolume<D> {
  logicalDisk: LogicalDisk;
  /** `/dev/md<index>`. */
  device: string;
  members: { disk: D; partition: PlannedPartition }[];
}

export interface PlannedDisk<D> {
  disk: D;
  /** The first byte volumes may use: the boot partitions are below it. */
  dataStart: number;
  /** Volume index → its partition on this disk, in layout order. */
  partitions: { volume: number; partition: PlannedPartition }[];
}

export interface RaidPlan<D> {
  volumes: PlannedVolume<D>[];
  /** Every disk that gets a partition table, in the disks' order. */
  disks: PlannedDisk<D>[];
}

/** Where the data partitions start (§8.3 step 4): the boot partitions' room. */
export function dataStartOf(bootMode: BootMode, label: DiskLabel): number {
  if (bootMode === 'uefi') return 551 * MiB;
  return label === 'gpt' ? 8 * MiB : MiB;
}

/** A member's share of the array's size, in whole MiB. */
export function memberBytes(sizeGiB: number, level: RaidLevel, members: number): number {
  const data = { 0: members, 1: 1, 5: members - 1, 6: members - 2, 10: members / 2 }[level];
  return Math.ceil((sizeGiB * GiB) / data / MiB) * MiB;
}

const show = (hints: RootDeviceHints) => JSON.stringify(hints);
const sizeText = (bytes: number) => (bytes >= GiB ? `${(bytes / GiB).toFixed(bytes % GiB === 0 ? 0 : 1)} GiB` : `${Math.floor(bytes / MiB)} MiB`);

export function planRaid<D extends HintCandidate>(options: RaidPlanOptions<D>): RaidPlan<D> {
  const { config, disks, bootMode, label } = options;
  const skip = options.skip ?? [];
  const skipped = (disk: D) => skip.some((hints) => deviceMatchesHints(disk, hints));
  const eligible = disks.filter((disk) => !disk.readOnly && !skipped(disk));

  // Disks chosen by physical_disks belong to that volume alone; volumes without hints share the rest.
  const claimedBy = new Map<D, LogicalDisk>();
  const chosen: D[][] = [];
  for (const ld of config.logicalDisks.filter((ld) => ld.physicalDisks)) {
    chosen[ld.index] = chooseMembers(ld, disks, eligible, skipped, claimedBy);
    for (const disk of chosen[ld.index]!) claimedBy.set(disk, ld);
  }
  for (const ld of config.logicalDisks.filter((ld) => !ld.physicalDisks)) chosen[ld.index] = chooseMembers(ld, disks, eligible.filter((disk) => !claimedBy.has(disk)), skipped, claimedBy);

  const dataStart = dataStartOf(bootMode, label);
  const byDisk = new Map<D, LogicalDisk[]>();
  for (const disk of disks) {
    const volumes = config.logicalDisks.filter((ld) => chosen[ld.index]!.includes(disk));
    if (volumes.length > 0) byDisk.set(disk, volumes);
  }
  const partitions = new Map<string, PlannedPartition>();
  const plannedDisks: PlannedDisk<D>[] = [];
  for (const [disk, volumes] of byDisk) {
    const max = volumes.filter((ld) => ld.sizeGiB === 'MAX');
    if (max.length > 1) {
      throw raidConfigError(`${max[1]!.label}: size_gb is MAX, as is ${max[0]!.label}, and both use ${disk.name}; only one volume on a disk can take the rest of it (give the other a size)`);
    }
    const ordered = [...volumes.filter((ld) => ld.sizeGiB !== 'MAX'), ...max];
    const end = Math.floor((disk.size - END_RESERVE) / MiB) * MiB;
    const bootPartitions = bootMode === 'uefi' || label === 'gpt' ? 1 : 0;
    let at = dataStart;
    const layout: PlannedDisk<D>['partitions'] = [];
    for (const [i, ld] of ordered.entries()) {
      const count = chosen[ld.index]!.length;
      const size = ld.sizeGiB === 'MAX' ? end - at : memberBytes(ld.sizeGiB, ld.level, count);
      if (ld.sizeGiB === 'MAX' ? size < MIN_MAX_PARTITION_BYTES : at + size > end) {
        const before = ordered.slice(0, i).map((other) => other.label);
        const room = Math.max(0, end - at);
        throw raidConfigError(ld.sizeGiB === 'MAX'
          ? `${ld.label}: size_gb is MAX but ${disk.name} has ${sizeText(room)} left after ${before.length ? before.join(', ') : 'the boot partitions'} (at least ${sizeText(MIN_MAX_PARTITION_BYTES)} needed)`
          : `${ld.label}: ${ld.sizeGiB} GiB of RAID ${levelName(ld.level)} over ${count} disks needs ${sizeText(size)} on each member, but ${disk.name} (${sizeText(disk.size)}) has ${sizeText(room)} left after ${before.length ? before.join(', ') : 'the boot partitions'}`);
      }
      const partition = { number: bootPartitions + i + 1, start: at, size };
      partitions.set(`${ld.index}:${disk.name}`, partition);
      layout.push({ volume: ld.index, partition });
      at += size;
    }
    plannedDisks.push({ disk, dataStart, partitions: layout });
  }
  if (label === 'msdos') {
    const crowded = plannedDisks.find((planned) => planned.partitions.length > 4);
    if (crowded) throw raidConfigError(`${crowded.partitions.length} volumes share ${crowded.disk.name}, more than an msdos partition table's 4 primary partitions; boot in UEFI mode or set the disk_label capability to gpt`);
  }

  const volumes = config.logicalDisks.map((ld) => ({
    logicalDisk: ld,
    device: `/dev/md${ld.index}`,
    members: chosen[ld.index]!.map((disk) => ({ disk, partition: partitions.get(`${ld.index}:${disk.name}`)! })),
  }));
  return { volumes, disks: plannedDisks };
}

function chooseMembers<D extends HintCandidate>(ld: LogicalDisk, disks: readonly D[], eligible: readonly D[], skipped: (disk: D) => boolean, claimedBy: ReadonlyMap<D, LogicalDisk>): D[] {
  let members: D[];
  if (ld.physicalDisks) {
    members = [];
    for (const [i, hints] of ld.physicalDisks.entries()) {
      const found = eligible.find((disk) => !members.includes(disk) && !claimedBy.has(disk) && deviceMatchesHints(disk, hints));
      if (found) {
        members.push(found);
        continue;
      }
      const matching = disks.filter((disk) => deviceMatchesHints(disk, hints));
      const claimed = matching.filter((disk) => claimedBy.has(disk));
      const why = matching.length === 0 ? `matches no disk (the disks: ${disks.map((d) => d.name).join(', ') || 'none'})`
        : matching.every((disk) => members.includes(disk)) ? `matches only ${matching.map((d) => d.name).join(', ')}, already a member of this volume through an earlier hint`
          : claimed.length > 0 && matching.every((disk) => members.includes(disk) || claimedBy.has(disk))
            ? `matches only ${matching.map((d) => d.name).join(', ')}, and ${claimed.map((d) => `${d.name} is claimed by ${claimedBy.get(d)!.label}`).join(', ')}; a disk chosen by physical_disks belongs to one volume (volumes without physical_disks share disks, each on its own partition)`
            : matching.some((disk) => skipped(disk)) ? `matches ${matching.map((d) => d.name).join(', ')}, on the skip list (skip_block_devices)`
              : `matches only read-only ${matching.map((d) => d.name).join(', ')}`;
      throw raidConfigError(`${ld.label}: physical_disks[${i}] ${show(hints)} ${why}`);
    }
  } else {
    members = ld.diskCount === undefined ? [...eligible] : eligible.slice(0, ld.diskCount);
    if (ld.diskCount !== undefined && members.length < ld.diskCount) {
      throw raidConfigError(`${ld.label}: number_of_physical_disks is ${ld.diskCount} but only ${eligible.length} disks are eligible (${eligible.map((d) => d.name).join(', ') || 'none'}; read-only and skipped disks are not)`);
    }
  }
  if (members.length < MIN_MEMBERS[ld.level]) {
    throw raidConfigError(`${ld.label}: RAID ${levelName(ld.level)} needs at least ${MIN_MEMBERS[ld.level]} member disks, and ${members.length === 0 ? 'no disk is eligible' : `only ${members.map((d) => d.name).join(', ')} ${members.length === 1 ? 'is' : 'are'} eligible`} (read-only and skipped disks are not)`);
  }
  return members;
}
