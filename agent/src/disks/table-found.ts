import { GPT_SIGNATURE } from './gpt-header.ts';

/**
 * What kind of partition table a whole-disk image brought, and the GPT disk
 * GUID: Ingot's extension keys of `standby.get_partition_uuids`. Ironic
 * stores IPA's `root uuid` (the MBR disk signature, `0x00000000` on a GPT
 * disk, whose protective MBR has none), which reads as a failure to a person:
 * these say what the disk really is.
 */
export interface TableFound {
  /** The same words as partition-layout.ts DiskLabel (sgdisk/sfdisk labels), or null. */
  partitionTable: 'gpt' | 'msdos' | null;
  /** The GPT header's DiskGUID (UEFI 2.x 5.3.2, offset 56), lowercase as blkid prints PTUUID; null without GPT. */
  diskGuid: string | null;
}

/** The MBR's partition entries: four of 16 bytes from byte 446; boot indicator at 0, type at 4. */
const MBR_ENTRIES = [446, 462, 478, 494];
/** The protective MBR's partition type for a GPT disk (UEFI 2.x 5.2.3). */
const GPT_PROTECTIVE = 0xee;

/**
 * Reads the disk's first two logical sectors (`head`, at least 2 ×
 * `sectorSize` bytes): GPT when LBA 1 holds the `EFI PART` header and the
 * MBR a protective entry, as blkid requires; msdos when the MBR has its boot
 * signature, valid boot indicators and no protective entry; otherwise none.
 */
export function readTableFound(head: Uint8Array, sectorSize: number): TableFound {
  const none: TableFound = { partitionTable: null, diskGuid: null };
  if (head.length < 512 || head[510] !== 0x55 || head[511] !== 0xaa) return none;
  const protective = MBR_ENTRIES.some((at) => head[at + 4] === GPT_PROTECTIVE);
  if (protective) {
    const header = head.subarray(sectorSize, sectorSize + 72);
    if (header.length < 72 || Buffer.from(header.subarray(0, 8)).toString('latin1') !== GPT_SIGNATURE) return none;
    return { partitionTable: 'gpt', diskGuid: formatGuid(header.subarray(56, 72)) };
  }
  // A boot indicator is 0x00 or 0x80; anything else is a boot sector that is not a partition table (a bare FAT volume).
  if (!MBR_ENTRIES.every((at) => head[at] === 0x00 || head[at] === 0x80)) return none;
  return { partitionTable: 'msdos', diskGuid: null };
}

/** A GUID as UEFI stores it: the first three fields little-endian, the last two as bytes. */
function formatGuid(bytes: Uint8Array): string {
  const hex = (from: number, to: number, reverse: boolean) => {
    const part = [...bytes.subarray(from, to)];
    return (reverse ? part.reverse() : part).map((byte) => byte.toString(16).padStart(2, '0')).join('');
  };
  return [hex(0, 4, true), hex(4, 6, true), hex(6, 8, true), hex(8, 10, false), hex(10, 16, false)].join('-');
}
