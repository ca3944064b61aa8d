import { readFile } from 'node:fs/promises';

/**
 * The last `lines` lines of a text file, leaving out lines that match
 * `exclude`; a note instead when the file cannot be read.
 */
export async function readLogTail(file: string, lines = 80, exclude?: RegExp): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    const kept = exclude ? text.split('\n').filter((line) => !exclude.test(line)) : text.split('\n');
    return kept.slice(-lines - 1).join('\n');
  } catch (error) {
    return `(cannot read ${file}: ${(error as Error).message})`;
  }
}

/** The JSON records of a log file (pino's lines), skipping anything else written there. */
export function readJsonLines(text: string): Array<Record<string, unknown>> {
  return text.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}
