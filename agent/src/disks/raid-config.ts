import { describeInput, IngotError, parseStrictBool } from '@ingot/protocol';
import { parseRootDeviceHints, type RootDeviceHints } from './root-device-hints.ts';

/**
 * Ironic's `target_raid_config` for software RAID (ipa-protocol.md §8.1), read
 * strictly: every field is checked here, before any disk is looked at, and a
 * refusal is a 400 naming the logical disk and the reason.
 *
 * Beyond IPA (§8.2): any number of logical disks, in any order, at any level;
 * `1+0` and `10` are the same level.
 */
export type RaidLevel = '0' | '1' | '5' | '6' | '10';

export interface LogicalDisk {
  /** Position in `logical_disks` (0-based); the array is /dev/md<index>. */
  index: number;
  /** `volume_name`, else `md<index>` (IPA's default `--name`). */
  name: string;
  /** How the volume is named in errors: `logical_disks[1] ("data")`. */
  label: string;
  sizeGiB: number | 'MAX';
  level: RaidLevel;
  /** `is_root_volume`: true makes it the root device, false excludes it; undefined leaves the choice to the hints. */
  isRoot: boolean | undefined;
  /** One hint set per member to choose, in order; undefined: every eligible disk. */
  physicalDisks: RootDeviceHints[] | undefined;
  /** Ironic's `number_of_physical_disks`: use that many disks when `physical_disks` is not given. */
  diskCount: number | undefined;
}

export interface RaidConfig {
  logicalDisks: LogicalDisk[];
}

/** The fewest member disks mdadm builds each level from (RAID 10 in mdadm's near-2 layout works from two). */
export const MIN_MEMBERS: Record<RaidLevel, number> = { 0: 2, 1: 2, 5: 3, 6: 4, 10: 2 };

const LEVELS: Record<string, RaidLevel> = { 0: '0', 1: '1', 5: '5', 6: '6', 10: '10', '1+0': '10' };
/** Keys of Ironic's RAID schema that hardware controllers use; software RAID has nothing to do with them. */
const IGNORED_KEYS = new Set(['disk_type', 'interface_type', 'share_physical_disks']);
const KNOWN_KEYS = new Set(['size_gb', 'raid_level', 'controller', 'volume_name', 'is_root_volume', 'physical_disks', 'number_of_physical_disks', ...IGNORED_KEYS]);

export function raidConfigError(details: string): IngotError {
  return new IngotError('INGOT_RAID_CONFIG_INVALID', { details });
}

/**
 * Reads a target_raid_config. Returns null when no logical disk asks for
 * `controller: software` (IPA's create_configuration then does nothing); a
 * mix of software and hardware controllers is refused, since the agent would
 * build only part of what was asked.
 */
export function parseRaidConfig(raw: unknown, source = 'target_raid_config'): RaidConfig | null {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw raidConfigError(`${source} must be an object with logical_disks, got ${describeInput(raw)}`);
  const list = (raw as Record<string, unknown>).logical_disks;
  if (!Array.isArray(list) || list.length === 0) throw raidConfigError(`${source}.logical_disks must be a non-empty list, got ${describeInput(list)}`);
  const software = list.map((entry) => entry !== null && typeof entry === 'object' && (entry as Record<string, unknown>).controller === 'software');
  if (!software.includes(true)) return null;
  const logicalDisks = list.map((entry, index) => parseLogicalDisk(entry, index, `${source}.logical_disks[${index}]`));

  const names = new Map<string, number>();
  for (const disk of logicalDisks) {
    const other = names.get(disk.name);
    if (other !== undefined) throw raidConfigError(`${disk.label}: the volume name "${disk.name}" is already used by logical_disks[${other}]; volume names must be unique`);
    names.set(disk.name, disk.index);
  }
  const roots = logicalDisks.filter((disk) => disk.isRoot === true);
  if (roots.length > 1) throw raidConfigError(`${roots[1]!.label}: is_root_volume is true for ${roots.map((d) => d.label).join(' and ')}; at most one volume can be the root`);
  return { logicalDisks };
}

function parseLogicalDisk(entry: unknown, index: number, at: string): LogicalDisk {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw raidConfigError(`${at} must be an object, got ${describeInput(entry)}`);
  const ld = entry as Record<string, unknown>;
  const volumeName = ld.volume_name;
  if (volumeName !== undefined && volumeName !== null && (typeof volumeName !== 'string' || !/^[A-Za-z0-9_.-]{1,32}$/.test(volumeName))) {
    throw raidConfigError(`${at}: volume_name must be 1 to 32 letters, digits, "_", "." or "-" (it becomes the array's name), got ${describeInput(volumeName)}`);
  }
  const name = typeof volumeName === 'string' ? volumeName : `md${index}`;
  if (name === 'esp') throw raidConfigError(`${at}: volume_name "esp" is reserved for the mirror of the EFI system partition that booting from RAID builds; choose another name`);
  const label = typeof volumeName === 'string' ? `${at} ("${volumeName}")` : at;
  const fail = (why: string): never => {
    throw raidConfigError(`${label}: ${why}`);
  };
  const unknown = Object.keys(ld).filter((key) => !KNOWN_KEYS.has(key));
  if (unknown.length > 0) fail(`unknown field ${unknown.map((key) => describeInput(key)).join(', ')}; the fields are ${[...KNOWN_KEYS].join(', ')}`);
  if (ld.controller !== 'software') fail(`controller must be "software" (the agent builds software RAID only, and the other logical disks ask for it), got ${describeInput(ld.controller)}`);

  const size = ld.size_gb;
  let sizeGiB: number | 'MAX';
  if (size === 'MAX') sizeGiB = 'MAX';
  else if (typeof size === 'number' && Number.isSafeInteger(size) && size > 0) sizeGiB = size;
  else if (typeof size === 'string' && /^\d+$/.test(size) && Number(size) > 0 && Number.isSafeInteger(Number(size))) sizeGiB = Number(size);
  else return fail(`size_gb must be a positive whole number of GiB or "MAX", got ${describeInput(size)}`);

  const level = typeof ld.raid_level === 'string' || typeof ld.raid_level === 'number' ? LEVELS[String(ld.raid_level)] : undefined;
  if (!level) fail(`raid_level ${describeInput(ld.raid_level)} is not a software RAID level; use one of "0", "1", "1+0" (or "10"), "5", "6"`);

  let isRoot: boolean | undefined;
  if (ld.is_root_volume !== undefined && ld.is_root_volume !== null) {
    isRoot = parseStrictBool(ld.is_root_volume);
    if (isRoot === undefined) fail(`is_root_volume must be a boolean, got ${describeInput(ld.is_root_volume)}`);
  }

  let physicalDisks: RootDeviceHints[] | undefined;
  if (ld.physical_disks !== undefined && ld.physical_disks !== null) {
    if (!Array.isArray(ld.physical_disks) || ld.physical_disks.length === 0) fail(`physical_disks must be a non-empty list of root device hints, one per member disk, got ${describeInput(ld.physical_disks)}`);
    physicalDisks = (ld.physical_disks as unknown[]).map((hints, i) => {
      let parsed: RootDeviceHints | null;
      try {
        parsed = parseRootDeviceHints(hints);
      } catch (error) {
        return fail(`physical_disks[${i}]: ${(error as IngotError).details ?? (error as Error).message}`);
      }
      return parsed ?? fail(`physical_disks[${i}] is empty; give hints that choose one disk, e.g. {"name": "/dev/sda"}`);
    });
  }

  let diskCount: number | undefined;
  const count = ld.number_of_physical_disks;
  if (count !== undefined && count !== null) {
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1) fail(`number_of_physical_disks must be a positive whole number, got ${describeInput(count)}`);
    if (physicalDisks && physicalDisks.length !== count) fail(`number_of_physical_disks is ${count} but physical_disks lists ${physicalDisks.length}`);
    diskCount = count as number;
  }
  const members = physicalDisks?.length ?? diskCount;
  if (members !== undefined && members < MIN_MEMBERS[level!]) fail(`RAID ${levelName(level!)} needs at least ${MIN_MEMBERS[level!]} member disks, ${physicalDisks ? 'physical_disks lists' : 'number_of_physical_disks is'} ${members}`);
  return { index, name, label, sizeGiB, level: level!, isRoot, physicalDisks, diskCount };
}

/** `1+0` as operators write it; the others as they are. */
export function levelName(level: RaidLevel): string {
  return level === '10' ? '1+0' : level;
}

/**
 * The volume a deployment writes to (ipa-protocol.md §8.3 step 7): the one
 * marked `is_root_volume`, else the first not marked false; none when every
 * volume is marked false.
 */
export function rootLogicalDisk(config: RaidConfig): LogicalDisk | undefined {
  return config.logicalDisks.find((ld) => ld.isRoot === true) ?? config.logicalDisks.find((ld) => ld.isRoot !== false);
}

/**
 * The node's software RAID configuration, as the agent acts on it: what
 * Ironic's create_configuration stored for the agent in
 * `driver_internal_info.target_raid_config` (filtered by its
 * create_root_volume/create_nonroot_volumes), else `target_raid_config`.
 * Null when there is none, or when no volume asks for software RAID.
 */
export function nodeRaidConfig(node: { target_raid_config?: unknown; driver_internal_info?: unknown }): RaidConfig | null {
  const internal = node.driver_internal_info as Record<string, unknown> | null | undefined;
  const filtered = internal?.target_raid_config;
  if (hasLogicalDisks(filtered)) return parseRaidConfig(filtered, 'driver_internal_info.target_raid_config');
  return hasLogicalDisks(node.target_raid_config) ? parseRaidConfig(node.target_raid_config) : null;
}

function hasLogicalDisks(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0;
}

/** `properties.skip_block_devices` (ipa-protocol.md §8.5): disks never to touch, and arrays to keep by `volume_name`. */
export interface SkipList {
  disks: RootDeviceHints[];
  volumes: Set<string>;
}

export function parseSkipList(properties: Record<string, unknown> | undefined): SkipList {
  const raw = properties?.skip_block_devices;
  const skip: SkipList = { disks: [], volumes: new Set() };
  if (raw === undefined || raw === null) return skip;
  if (!Array.isArray(raw)) throw raidConfigError(`properties.skip_block_devices must be a list of root device hints or {"volume_name": ...} entries, got ${describeInput(raw)}`);
  for (const [i, entry] of raw.entries()) {
    const at = `properties.skip_block_devices[${i}]`;
    if (entry !== null && typeof entry === 'object' && !Array.isArray(entry) && 'volume_name' in entry) {
      const name = (entry as Record<string, unknown>).volume_name;
      if (typeof name !== 'string' || name === '') throw raidConfigError(`${at}: volume_name must be a non-empty string, got ${describeInput(name)}`);
      skip.volumes.add(name);
      continue;
    }
    let hints: RootDeviceHints | null;
    try {
      hints = parseRootDeviceHints(entry);
    } catch (error) {
      throw raidConfigError(`${at}: ${(error as IngotError).details ?? (error as Error).message}`);
    }
    if (hints) skip.disks.push(hints);
  }
  return skip;
}
