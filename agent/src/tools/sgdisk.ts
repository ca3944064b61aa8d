/**
 * sgdisk (GPT fdisk): `-Z` (--zap-all) destroys the GPT structures at both
 * ends of the disk and the MBR, as IPA's destroy_disk_metadata does (7.3).
 */

export function sgdiskZapArgv(path: string): string[] {
  return ['sgdisk', '--zap-all', path];
}

export interface SgdiskZapOutcome {
  /** sgdisk announced "GPT data structures destroyed!". */
  destroyed: boolean;
  /** The kernel refused to re-read the table (BLKRRPART busy or unsupported); a re-read is still owed. */
  kernelKeepsOldTable: boolean;
  /** Exit 0, or 2 when sgdisk merely complained about a disk with no valid table: verification decides. */
  acceptable: boolean;
}

/**
 * Reads sgdisk's prose, which is all it offers. Exit code 2 is what some
 * sgdisk releases return after zapping a disk whose table could not be loaded;
 * the caller accepts it only because it verifies the disk afterwards.
 */
export function parseSgdiskZap(exitCode: number, output: string): SgdiskZapOutcome {
  return {
    destroyed: /GPT data structures destroyed/i.test(output),
    kernelKeepsOldTable: /kernel is still using the old partition table/i.test(output),
    acceptable: exitCode === 0 || exitCode === 2,
  };
}

/** GPT partition type GUIDs (UEFI 2.x table 5-7, and the Linux and BIOS-boot codes sgdisk knows by short code). */
export const GPT_TYPES = {
  esp: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  biosBoot: '21686148-6449-6E6F-744E-656564454649',
  linux: '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
  swap: '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F',
} as const;

export interface GptPartitionSpec {
  number: number;
  /** First and last (inclusive) logical sector. */
  startSector: number;
  endSector: number;
  typeGuid: string;
  /** The GPT partition name (36 UTF-16 characters at most). */
  name: string;
}

/**
 * One sgdisk run that writes a fresh GPT (`--clear`) and every partition,
 * so the disk never holds half a layout. sgdisk counts in logical sectors,
 * as the plan does.
 */
export function sgdiskCreateTableArgv(path: string, partitions: readonly GptPartitionSpec[]): string[] {
  const argv = ['sgdisk', '--clear'];
  for (const p of partitions) {
    argv.push(`--new=${p.number}:${p.startSector}:${p.endSector}`, `--typecode=${p.number}:${p.typeGuid}`, `--change-name=${p.number}:${p.name}`);
  }
  argv.push(path);
  return argv;
}

/**
 * IPA's whole-disk config drive partition on GPT (9.6): `sgdisk -n 0:-64MB:0`,
 * the first free number, 64 MiB before the end of the usable space.
 */
export function sgdiskAppendArgv(path: string, options: { sizeMiB: number; partitionUuid: string; name: string }): string[] {
  return ['sgdisk', `--new=0:-${options.sizeMiB}M:0`, `--partition-guid=0:${options.partitionUuid}`, `--change-name=0:${options.name}`, path];
}

/** Moves the backup GPT to the end of the disk (`sgdisk -e`): an image made for a smaller disk leaves it in the middle (9.5 step 5). */
export function sgdiskMoveBackupArgv(path: string): string[] {
  return ['sgdisk', '--move-second-header', path];
}
