import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isNoPartitionTable, parsePartx, partxArgv } from './partx.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('partx', () => {
  it('asks for raw rows with byte sizes and a fixed set of columns', () => {
    expect(partxArgv('/tmp/disk.img')).toEqual(['partx', '--raw', '--bytes', '--output', 'NR,START,SECTORS,SIZE,TYPE,UUID,SCHEME', '/tmp/disk.img']);
  });

  it('reads the GPT partitions of a disk file as byte offsets', () => {
    expect(parsePartx(fixture('partx-file-gpt.txt'))).toEqual([
      { number: 1, start: 1048576, size: 16777216, type: '0fc63daf-8483-4772-8e79-3d69d8477de4', uuid: 'd41ce7d1-a3f9-457c-9b76-f965e6caa66a', scheme: 'gpt' },
      { number: 2, start: 17825792, size: 16777216, type: 'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7', uuid: '7e1a9c32-084c-4c36-ae01-c97b996fd78d', scheme: 'gpt' },
      { number: 3, start: 34603008, size: 32488960, type: '0fc63daf-8483-4772-8e79-3d69d8477de4', uuid: 'c70e88f1-2855-4216-96f4-6be05bedf2ff', scheme: 'gpt' },
    ]);
  });

  it('counts starts in 512-byte units on a 4096-byte-sector disk too', () => {
    const partitions = parsePartx(fixture('partx-loop-gpt-4096.txt'));
    expect(partitions.map((p) => p.start)).toEqual([1048576, 17825792, 34603008]);
    expect(partitions[2]?.size).toBe(32485376);
  });

  it('keeps the empty UUID column of an MBR table empty', () => {
    expect(parsePartx(fixture('partx-file-mbr.txt'))).toEqual([
      { number: 1, start: 1048576, size: 8388608, type: '0x83', uuid: null, scheme: 'dos' },
      { number: 2, start: 9437184, size: 24100352, type: '0x83', uuid: null, scheme: 'dos' },
    ]);
  });

  it('recognises a disk without a partition table by exit code and message', () => {
    expect(isNoPartitionTable(1, fixture('partx-no-table.stderr.txt'))).toBe(true);
    expect(isNoPartitionTable(1, 'partx: /dev/sdz: failed to open: No such file or directory')).toBe(false);
    expect(parsePartx('')).toEqual([]);
  });

  it('refuses a row whose numbers it cannot read', () => {
    expect(() => parsePartx('NR START SECTORS SIZE TYPE UUID SCHEME\nx 1 2 3   gpt\n')).toThrow(/unexpected partx row/);
  });
});
