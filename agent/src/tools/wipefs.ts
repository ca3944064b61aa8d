/**
 * wipefs: finds and erases the magic strings that let libblkid recognise a
 * filesystem, RAID member or partition table (the same probes blkid and udev
 * use), so what wipefs no longer sees, nothing on the next boot will mount.
 */

export interface Signature {
  /** Device as wipefs names it: a basename (`loop0p1`) for block devices. */
  device: string;
  /** Byte offset of the magic string on the probed device. */
  offset: number;
  /** ext4, vfat, gpt, PMBR, dos, linux_raid_member... */
  type: string;
  uuid: string | null;
  label: string | null;
}

export interface ErasedSignature {
  device: string;
  offset: number;
  type: string;
  bytes: number;
}

/** Lists signatures without writing anything (`--no-act` guards against a future default change). */
export function wipefsListArgv(path: string): string[] {
  return ['wipefs', '--no-act', '--json', path];
}

/**
 * Erases every signature. `--force` lets wipefs erase a partition table while
 * the kernel still uses it, which is the point during cleaning.
 */
export function wipefsEraseArgv(path: string): string[] {
  return ['wipefs', '--all', '--force', path];
}

/** Parses `wipefs --json`. An empty output (older wipefs on a blank device) means no signature. */
export function parseWipefsList(stdout: string): Signature[] {
  if (stdout.trim() === '') return [];
  const parsed: unknown = JSON.parse(stdout);
  const list = parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>).signatures : undefined;
  if (!Array.isArray(list)) throw new Error('wipefs output has no "signatures" array');
  return list.map((entry: unknown) => {
    const record = entry !== null && typeof entry === 'object' ? entry as Record<string, unknown> : {};
    const offset = typeof record.offset === 'string' || typeof record.offset === 'number' ? Number(record.offset) : Number.NaN;
    if (typeof record.type !== 'string' || !Number.isSafeInteger(offset)) throw new Error(`unexpected wipefs signature entry: ${JSON.stringify(entry)}`);
    return {
      device: typeof record.device === 'string' ? record.device : '',
      offset,
      type: record.type,
      uuid: typeof record.uuid === 'string' && record.uuid !== '' ? record.uuid : null,
      label: typeof record.label === 'string' && record.label !== '' ? record.label : null,
    };
  });
}

/** `<device>: 8 bytes were erased at offset 0x00000200 (gpt): 45 46 49 20 50 41 52 54` */
const ERASED_LINE = /^(.*): (\d+) bytes? (?:was|were) erased at offset (0x[0-9a-f]+) \(([^)]+)\)/i;

/** Parses what `wipefs --all` reports having erased, for the log. Lines it does not recognise are ignored. */
export function parseWipefsErased(stdout: string): ErasedSignature[] {
  return stdout.split('\n').flatMap((line) => {
    const match = ERASED_LINE.exec(line.trim());
    if (!match) return [];
    const [, device = '', bytes = '0', offset = '0', type = ''] = match;
    return [{ device, bytes: Number(bytes), offset: Number(offset), type }];
  });
}

/** `gpt at 0x200, PMBR at 0x1fe` for an error message. */
export function describeSignatures(signatures: readonly Signature[]): string {
  return signatures.map((s) => `${s.type} at 0x${s.offset.toString(16)}`).join(', ');
}
