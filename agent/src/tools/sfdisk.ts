/**
 * sfdisk (util-linux): writes msdos partition tables from a script on stdin.
 * The ramdisk ships it (fdisk package) and not parted, so msdos layouts are
 * written with it; the script counts in logical sectors.
 */

export interface MbrPartitionSpec {
  startSector: number;
  sizeSectors: number;
  /** The MBR type byte in hex, without 0x: `83` Linux, `82` swap, `c` FAT32 (LBA), `ef` EFI. */
  type: string;
  bootable: boolean;
}

export function sfdiskWriteArgv(path: string): string[] {
  return ['sfdisk', '--no-reread', '--no-tell-kernel', '--wipe', 'always', path];
}

/** Adds partitions after the existing ones, keeping the table (`--append`). */
export function sfdiskAppendArgv(path: string): string[] {
  return ['sfdisk', '--append', '--no-reread', '--no-tell-kernel', path];
}

/** The script of a new msdos table: every partition primary, as parted makes them for IPA (9.7). */
export function sfdiskScript(partitions: readonly MbrPartitionSpec[], options: { newTable: boolean }): string {
  const lines = options.newTable ? ['label: dos', ''] : [];
  for (const p of partitions) {
    lines.push(`start=${p.startSector}, size=${p.sizeSectors}, type=${p.type}${p.bootable ? ', bootable' : ''}`);
  }
  return `${lines.join('\n')}\n`;
}
