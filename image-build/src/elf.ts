/**
 * Pure parsing of `readelf -d -l` output, run over one or many files at once:
 * the NEEDED shared libraries and the program interpreter of each.
 */
export interface ElfDynamicInfo {
  needed: string[];
  interpreter?: string;
}

/**
 * With several files readelf prefixes each one's output with `File: <path>`;
 * with a single file it does not, so that output belongs to `single`.
 */
export function parseReadelf(text: string, single?: string): Map<string, ElfDynamicInfo> {
  const result = new Map<string, ElfDynamicInfo>();
  let current: ElfDynamicInfo | undefined = single === undefined ? undefined : { needed: [] };
  if (single !== undefined && current) result.set(single, current);
  for (const line of text.split('\n')) {
    const file = /^File: (.+)$/.exec(line);
    if (file) {
      current = { needed: [] };
      result.set(file[1]!.trim(), current);
      continue;
    }
    if (!current) continue;
    const needed = /\(NEEDED\)\s+Shared library: \[([^\]]+)\]/.exec(line);
    if (needed) {
      if (!current.needed.includes(needed[1]!)) current.needed.push(needed[1]!);
      continue;
    }
    const interpreter = /\[Requesting program interpreter: ([^\]]+)\]/.exec(line);
    if (interpreter) current.interpreter = interpreter[1]!;
  }
  return result;
}
