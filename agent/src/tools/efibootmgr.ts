/**
 * efibootmgr: the UEFI boot entries in NVRAM (through efivarfs). IPA lists
 * them, deletes entries carrying the label it is about to add, and adds one
 * per loader found on the ESP (ipa-protocol.md 9.9).
 */

export interface BootEntry {
  /** Four hex digits, as `-b` takes them: `0001`. */
  number: string;
  active: boolean;
  label: string;
  /** The device path (`HD(1,GPT,...)/File(\EFI\BOOT\BOOTX64.EFI)`), with -v; null without. */
  devicePath: string | null;
}

export function efibootmgrListArgv(): string[] {
  return ['efibootmgr', '-v'];
}

export function efibootmgrDeleteArgv(number: string): string[] {
  return ['efibootmgr', '-b', number, '-B'];
}

/** `-w`: write a protective MBR signature if needed, as IPA passes it; the loader path uses backslashes. */
export function efibootmgrCreateArgv(options: { disk: string; partition: number; label: string; loader: string }): string[] {
  return ['efibootmgr', '-v', '-c', '-d', options.disk, '-p', String(options.partition), '-w', '-L', options.label, '-l', options.loader];
}

/**
 * Reads `Boot####[*] <label>[\t<device path>]` lines; efibootmgr 17 separates
 * the label from the path by a tab, 18 by spaces before `HD(`/`PciRoot(`...
 * with -v, so both are taken.
 */
export function parseEfibootmgr(stdout: string): BootEntry[] {
  const entries: BootEntry[] = [];
  for (const line of stdout.split('\n')) {
    const match = /^Boot([0-9A-Fa-f]{4})(\*?) (.*)$/.exec(line.trimEnd());
    if (!match) continue;
    const rest = match[3]!;
    const tab = rest.indexOf('\t');
    const spaced = /^(.*?)\s{2,}(\S.*)$/.exec(rest);
    const [label, devicePath] = tab >= 0 ? [rest.slice(0, tab), rest.slice(tab + 1)] : spaced ? [spaced[1]!, spaced[2]!] : [rest, null];
    entries.push({ number: match[1]!.toUpperCase(), active: match[2] === '*', label: label.trim(), devicePath: devicePath?.trim() || null });
  }
  return entries;
}
