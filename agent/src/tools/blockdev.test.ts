import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { blockdevRereadArgv, parseBlockdevReread } from './blockdev.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('blockdev', () => {
  it('asks the kernel to re-read the partition table', () => {
    expect(blockdevRereadArgv('/dev/loop0')).toEqual(['blockdev', '--rereadpt', '/dev/loop0']);
  });

  it('tells a busy disk, worth a retry, from one that cannot hold partitions', () => {
    expect(parseBlockdevReread(0, '')).toBe('done');
    expect(parseBlockdevReread(1, fixture('blockdev-rereadpt-busy.stderr.txt'))).toBe('busy');
    expect(parseBlockdevReread(1, fixture('blockdev-rereadpt-no-partscan.stderr.txt'))).toBe('unsupported');
    expect(parseBlockdevReread(1, 'blockdev: cannot open /dev/sdz: No such file or directory')).toBe('failed');
  });
});
