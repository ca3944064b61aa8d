/**
 * `BOOT<ARCH>.CSV` (shim's fallback.efi format): in an ESP vendor directory
 * such as `EFI/redhat/BOOTX64.CSV`, UTF-16LE text, one entry a line:
 * `<loader file>,<label>,<options>,<description>`. IPA prefers it over any
 * loader it finds by name, because it names the loader the vendor meant and
 * the label to give it (ipa-protocol.md 9.9 step 2).
 */
export interface CsvBootEntry {
  /** The loader file, relative to the CSV's directory: `shimx64.efi`. */
  loader: string;
  label: string;
}

/**
 * The System seam reads text as UTF-8. UTF-16LE ASCII read that way is each
 * character followed by NUL, after a BOM that became two U+FFFD; dropping
 * those gives the text back. Labels and loader names are ASCII in practice
 * (shim's own CSVs: "shimx64.efi,redhat,,This is the boot entry for Red Hat").
 */
export function textOfBootCsv(readAsUtf8: string): string {
  return readAsUtf8.replace(/[\u0000\uFFFD\uFEFF]/g, '');
}

export function parseBootCsv(text: string): CsvBootEntry[] {
  return text.split(/\r?\n/).map((line) => line.split(',')).filter((fields) => fields.length >= 2 && fields[0]!.trim() !== '' && fields[1]!.trim() !== '')
    .map((fields) => ({ loader: fields[0]!.trim(), label: fields[1]!.trim() }));
}
