/**
 * `parameters.txt` of a virtual-media device (reference 10.3): whitespace
 * separated `key=value` words, merged over the kernel command line. As IPA
 * does, a word without `=` is skipped; Ingot also skips `#` comment lines so
 * that a generated file can say where it came from.
 */
export interface ParametersFile {
  params: Record<string, string>;
  /** Words that were not `key=value`, for the log. */
  skipped: string[];
}

export function parseParametersFile(text: string): ParametersFile {
  const params: Record<string, string> = {};
  const skipped: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trimStart().startsWith('#')) continue;
    for (const word of line.split(/\s+/).filter(Boolean)) {
      const at = word.indexOf('=');
      if (at <= 0) {
        skipped.push(word);
        continue;
      }
      params[word.slice(0, at)] = word.slice(at + 1);
    }
  }
  return { params, skipped };
}
