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
