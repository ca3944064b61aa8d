import type { System } from '../system/system.ts';
import type { TextOrigin } from './bounded-text.ts';

/** A file's text, at most its last `maxBytes` read, and where it came from. */
export interface FileTail {
  text: string;
  origin: TextOrigin;
}

/**
 * Reads a text file without loading more than `maxBytes` of it: a file
 * larger than that is read from its end only (see keepTail for the cut).
 */
export async function readFileTail(system: System, path: string, maxBytes: number): Promise<FileTail> {
  const stat = await system.stat(path);
  if (!stat.isFile) throw new Error(`${path} is not a regular file`);
  if (stat.size <= maxBytes) {
    const text = await system.readText(path);
    return { text, origin: { bytes: Buffer.byteLength(text), partial: false } };
  }
  const bytes = await system.readRange(path, stat.size - maxBytes, maxBytes);
  return { text: bytes.toString('utf8'), origin: { bytes: stat.size, partial: true } };
}

/** Rotated, compressed and binary logs (the journal's own files, login records) are unreadable as text. */
const binaryLog = /(\.(gz|xz|bz2|zst|lz4|zip|journal|journal~)|^(wtmp|btmp|lastlog|faillog)(\.\d+)?)$/;

export interface LogFileWalkLimits {
  maxDepth: number;
  maxFiles: number;
}

/**
 * The text log files under `root` (IPA tars /var/log when there is no
 * journal, 4.2), depth-first in name order, skipping binary logs and
 * anything that cannot be listed or stat'ed. The System seam has no
 * is-directory test, so a non-file that lists is a directory.
 */
export async function listLogFiles(system: System, root: string, limits: LogFileWalkLimits): Promise<string[]> {
  const files: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    let names: string[];
    try {
      names = (await system.listDir(dir)).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (files.length >= limits.maxFiles) return;
      const path = `${dir}/${name}`;
      let isFile: boolean;
      try {
        isFile = (await system.stat(path)).isFile;
      } catch {
        continue;
      }
      if (isFile) {
        if (!binaryLog.test(name)) files.push(path);
      } else if (depth < limits.maxDepth) {
        await walk(path, depth + 1);
      }
    }
  };
  await walk(root.replace(/\/+$/, ''), 0);
  return files;
}
