/**
 * A clone holds every file its text points at: each `<name>.md` cited in a
 * tracked source, script or document is a tracked file, and nothing points
 * outside the repository (`../shared/...` exists only on the team's machines).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const tracked = execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);
const texts = tracked.filter((path) => /\.(ts|md|sh|json)$/.test(path) && !path.startsWith('docs/reference/') && !path.endsWith('package-lock.json'));
const trackedNames = new Set(tracked.map((path) => basename(path)));

describe('what the repository cites, a clone has', () => {
  it('every cited .md file is in the repository', () => {
    const missing: string[] = [];
    for (const path of texts) {
      const text = readFileSync(join(root, path), 'utf8');
      for (const match of text.matchAll(/\b([A-Za-z0-9_-]+\.md)\b(?!\.)/g)) {
        if (!trackedNames.has(match[1]!)) missing.push(`${path}: ${match[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('nothing points outside the repository', () => {
    const outside = texts.filter((path) => path !== 'test/cli/docs.test.ts' && /\.\.\/shared\/|\/work\/shared/.test(readFileSync(join(root, path), 'utf8')));
    expect(outside).toEqual([]);
  });
});
