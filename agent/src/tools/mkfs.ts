import { IngotError } from '@ingot/protocol';

/**
 * Filesystems for the partitions IPA makes around a partition image (9.7
 * step 5): the ESP (vfat, `efi-part`), swap (`swap1`) and ephemeral
 * (`ephemeral0`, in `ephemeral_format`). Only formats whose mkfs the ramdisk
 * ships (e2fsprogs, dosfstools) are accepted, so a typo fails before the disk
 * is touched.
 */
export const EPHEMERAL_FORMATS = ['ext2', 'ext3', 'ext4', 'vfat', 'fat'] as const;
export type FilesystemFormat = (typeof EPHEMERAL_FORMATS)[number];

/** IPA's `default_ephemeral_format`. */
export const DEFAULT_EPHEMERAL_FORMAT: FilesystemFormat = 'ext4';

export function parseEphemeralFormat(value: string | null): FilesystemFormat {
  const format = value ?? DEFAULT_EPHEMERAL_FORMAT;
  if (!(EPHEMERAL_FORMATS as readonly string[]).includes(format)) {
    throw new IngotError('INGOT_INVALID_PARAMS', {
      details: `image_info.ephemeral_format ${JSON.stringify(format)} is not one this ramdisk can make; use one of ${EPHEMERAL_FORMATS.join(', ')}`,
    });
  }
  return format as FilesystemFormat;
}

export function mkfsArgv(format: FilesystemFormat, path: string, label: string): string[] {
  if (format === 'vfat' || format === 'fat') return ['mkfs.vfat', '-n', label, path];
  // -F: the partition may hold an old filesystem; -q: no progress bars in the log.
  return [`mkfs.${format}`, '-F', '-q', '-L', label, path];
}

export function mkswapArgv(path: string, label: string): string[] {
  return ['mkswap', '-L', label, path];
}
