/**
 * blkid in low-level probe mode (`-p`): reads the device itself, never
 * libblkid's cache, so a filesystem made a second ago is seen. IPA reads
 * `UUID`, then `PARTUUID`, for the root and ESP uuids (9.7 step 6); in probe
 * mode the partition's GUID is `PART_ENTRY_UUID`.
 */
export function blkidProbeArgv(path: string): string[] {
  return ['blkid', '--probe', '--output', 'export', path];
}

export interface BlkidProbe {
  /** Filesystem UUID. */
  uuid: string | null;
  label: string | null;
  /** Filesystem type: ext4, vfat, swap, iso9660... */
  type: string | null;
  /** GPT partition GUID, or `<disk id>-<nn>` on msdos. */
  partUuid: string | null;
  partLabel: string | null;
  partType: string | null;
}

/** blkid exits 2 when it finds nothing on the device: an empty partition, not an error. */
export function isNothingFound(exitCode: number): boolean {
  return exitCode === 2;
}

export function parseBlkidExport(stdout: string): BlkidProbe {
  const values = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) values.set(line.slice(0, at), line.slice(at + 1).replace(/\\(.)/g, '$1'));
  }
  const get = (key: string) => values.get(key) || null;
  return {
    uuid: get('UUID'),
    label: get('LABEL'),
    type: get('TYPE'),
    partUuid: get('PART_ENTRY_UUID') ?? get('PARTUUID'),
    partLabel: get('PART_ENTRY_NAME') ?? get('PARTLABEL'),
    partType: get('PART_ENTRY_TYPE'),
  };
}

/** Probes a region of a disk file or disk (a partition that has no node): `--offset` and `--size` in bytes. */
export function blkidProbeRangeArgv(path: string, offset: number, size: number): string[] {
  return ['blkid', '--probe', '--offset', String(offset), '--size', String(size), '--output', 'export', path];
}
