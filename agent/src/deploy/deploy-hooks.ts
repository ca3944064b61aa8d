import type { PartitionUuids } from '../disks/partition-layout.ts';
import type { WriteImageOptions } from '../image/pipeline/index.ts';

/** How images are downloaded, from the agent's settings (ipa-image-download-*, ipa-ca-file). */
export interface ImageDownloadSettings {
  write: Partial<WriteImageOptions>;
  /** Trusted CAs (PEM) for https image URLs, instead of the system store, as IPA's `cafile`. */
  caPem?: string;
}

/**
 * What an image write needs from the agent beyond the hardware: where to
 * record the partition UUIDs that `standby.get_partition_uuids` answers
 * (ipa-protocol.md 9.8), and whether the lookup allowed MD5 (9.3).
 */
export interface ImageDeployHooks {
  recordPartitionUuids(uuids: PartitionUuids): void;
  /** The lookup's `agent_md5_checksum_enable`; false until a lookup said otherwise. */
  md5Allowed(): boolean;
  download(): ImageDownloadSettings;
}
