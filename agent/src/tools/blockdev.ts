/**
 * blockdev: asks the kernel to re-read a disk's partition table (BLKRRPART),
 * so that partitions erased from the disk also disappear from /dev.
 */

export function blockdevRereadArgv(path: string): string[] {
  return ['blockdev', '--rereadpt', path];
}

export type RereadOutcome = 'done' | 'busy' | 'unsupported' | 'failed';

/**
 * EBUSY: a partition is still open or mounted, worth retrying once its user
 * lets go. EINVAL: the device cannot hold kernel partitions at all (a loop
 * device attached without partition scanning), so there is nothing to re-read.
 */
export function parseBlockdevReread(exitCode: number, stderr: string): RereadOutcome {
  if (exitCode === 0) return 'done';
  if (/Device or resource busy/i.test(stderr)) return 'busy';
  if (/Invalid argument/i.test(stderr)) return 'unsupported';
  return 'failed';
}

/** The size in bytes of a block device (BLKGETSIZE64): stat() reports 0 for one. */
export function blockdevSizeArgv(path: string): string[] {
  return ['blockdev', '--getsize64', path];
}
