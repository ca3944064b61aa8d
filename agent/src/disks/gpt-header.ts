/**
 * The primary GPT header (UEFI 2.x 5.3.2): at LBA 1, signature `EFI PART`,
 * its own LBA at byte 24 and the backup header's LBA at byte 32. An image
 * built for a smaller disk points the backup at the image's old last sector,
 * in the middle of the new disk: firmware and the kernel then complain or
 * ignore the table, which is why IPA runs `sgdisk -e` after a write (9.5 step 5).
 */
export interface GptHeaderCheck {
  /** Whether LBA 1 holds a GPT header at all. */
  present: boolean;
  /** The backup header's LBA as recorded, when present. */
  backupLba: bigint | null;
  /** The disk's last LBA, where the backup belongs. */
  lastLba: bigint;
  /** True when present and the backup is not at the disk's end. */
  backupMisplaced: boolean;
}

export const GPT_SIGNATURE = 'EFI PART';

export function checkGptBackup(headerSector: Uint8Array, diskBytes: number, sectorSize: number): GptHeaderCheck {
  const lastLba = BigInt(Math.floor(diskBytes / sectorSize)) - 1n;
  const present = headerSector.length >= 40 && Buffer.from(headerSector.subarray(0, 8)).toString('latin1') === GPT_SIGNATURE;
  if (!present) return { present, backupLba: null, lastLba, backupMisplaced: false };
  const view = new DataView(headerSector.buffer, headerSector.byteOffset, headerSector.byteLength);
  const backupLba = view.getBigUint64(32, true);
  return { present, backupLba, lastLba, backupMisplaced: backupLba !== lastLba };
}
