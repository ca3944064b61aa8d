import type { BlockDevice } from '../disks/block-devices.ts';
import type { System } from '../system/system.ts';
import { blkidProbeArgv, parseBlkidExport, type BlkidProbe } from '../tools/blkid.ts';
import { parsePartx, partxArgv } from '../tools/partx.ts';
import { GPT_TYPES } from '../tools/sgdisk.ts';
import { partitionPath } from '../disks/partition-layout.ts';

export interface FoundPartition {
  number: number;
  /** Device node: `/dev/sda1`. */
  node: string;
  /** GPT type GUID or MBR type (`0xef`). */
  type: string | null;
  probe: BlkidProbe;
}

/** Every partition of the disk with its blkid probe; partitions of a disk file are not reachable (no nodes). */
export async function readPartitions(system: System, disk: BlockDevice): Promise<FoundPartition[]> {
  const result = await system.run(partxArgv(disk.name), { allowFailure: true });
  if (result.exitCode !== 0) return [];
  const found: FoundPartition[] = [];
  for (const entry of parsePartx(result.stdout)) {
    const node = partitionPath(disk.name, entry.number);
    const probed = await system.run(blkidProbeArgv(node), { allowFailure: true });
    found.push({ number: entry.number, node, type: entry.type, probe: parseBlkidExport(probed.exitCode === 0 ? probed.stdout : '') });
  }
  return found;
}

/** A partition by filesystem UUID or partition GUID, as IPA's root uuid may be either (9.7 step 6). */
export function partitionByUuid(partitions: readonly FoundPartition[], uuid: string): FoundPartition | undefined {
  const wanted = uuid.toLowerCase();
  return partitions.find((p) => p.probe.uuid?.toLowerCase() === wanted || p.probe.partUuid?.toLowerCase() === wanted);
}

/**
 * The ESP as IPA finds it (9.9 step 1): a GPT partition typed EF00 (parted's
 * `esp`/`boot` flag on GPT), an msdos partition of type 0xef, else the one
 * whose UUID Ironic recorded as `efi_system_part_uuid`.
 */
export function findEsp(partitions: readonly FoundPartition[], espUuid: string | null): FoundPartition | undefined {
  const typed = partitions.find((p) => p.type?.toUpperCase() === GPT_TYPES.esp || p.type?.toLowerCase() === '0xef');
  return typed ?? (espUuid ? partitionByUuid(partitions, espUuid) : undefined);
}
