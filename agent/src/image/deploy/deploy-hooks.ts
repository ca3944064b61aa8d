import type { PartitionUuids } from '../partition-layout.ts';

/**
 * What an image write needs from the agent beyond the hardware: where to
 * record the partition UUIDs that `standby.get_partition_uuids` answers
 * (ipa-protocol.md 9.8), and whether the lookup allowed MD5 (9.3).
 */
export interface ImageDeployHooks {
  recordPartitionUuids(uuids: PartitionUuids): void;
  /** The lookup's `agent_md5_checksum_enable`; false until a lookup said otherwise. */
  md5Allowed(): boolean;
}
