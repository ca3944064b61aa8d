/**
 * What `standby.get_partition_uuids` says about the disk a whole-disk image
 * went to, typed, and said so a person does not mistake a GPT image for a
 * failure. IPA reports a whole-disk image's `root uuid` as the MBR disk
 * signature, `0x%08x` (ipa-protocol.md §9.5 step 8): a GPT image's protective
 * MBR has none, so every GPT deploy reads `0x00000000`. Ingot's agent adds
 * `partition_table` ('gpt' | 'msdos' | null) and `disk_guid` (Ingot
 * extension keys); any other IPA agent leaves them out.
 */

export type PartitionTable = 'gpt' | 'msdos' | null;

export interface RootDisk {
  /** `root uuid` as the agent sent it (Ironic's root_uuid_or_disk_id). */
  rootUuid: string | null;
  /** Ingot extension: the image's partition table; undefined when the agent does not say. */
  partitionTable?: PartitionTable;
  /** Ingot extension: the GPT disk GUID; undefined when the agent does not say. */
  diskGuid?: string | null;
}

const NO_SIGNATURE = '0x00000000';

/** The typed keys of a `get_partition_uuids` reply; unknown values are left out rather than trusted. */
export function readRootDisk(partitionUuids: Record<string, unknown>): RootDisk {
  const root = partitionUuids['root uuid'];
  const table = partitionUuids.partition_table;
  const guid = partitionUuids.disk_guid;
  return {
    rootUuid: typeof root === 'string' ? root : null,
    ...(table === 'gpt' || table === 'msdos' || table === null ? { partitionTable: table } : {}),
    ...(typeof guid === 'string' || guid === null ? { diskGuid: guid } : {}),
  };
}

/** `GPT disk 1b2c...`, `MBR disk identifier 0x1234abcd`, `no MBR disk identifier (GPT image)`, or the root uuid of a partition image. */
export function describeRootDisk(disk: RootDisk): string {
  if (disk.partitionTable === 'gpt') return disk.diskGuid ? `GPT disk ${disk.diskGuid}` : 'GPT disk (no disk GUID reported)';
  if (disk.rootUuid === null) return 'no root uuid reported';
  if (disk.rootUuid.toLowerCase() === NO_SIGNATURE) return 'no MBR disk identifier (GPT image)';
  if (disk.partitionTable === 'msdos' || /^0x[0-9a-f]{8}$/i.test(disk.rootUuid)) return `MBR disk identifier ${disk.rootUuid}`;
  return `root uuid ${disk.rootUuid}`;
}

/** The device the agent names in write_image's result (`... written to device /dev/sda root_uuid=...`), if it names one. */
export function deployedDevice(deployResult: unknown): string | null {
  const text = typeof deployResult === 'string' ? deployResult : (deployResult as { result?: unknown } | null)?.result;
  if (typeof text !== 'string') return null;
  return /\b(?:written to|present on|cached to) device (\S+)/.exec(text)?.[1] ?? null;
}
