import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { MdArray } from '../disks/md-arrays.ts';
import { parseMdstat } from '../tools/mdadm.ts';
import { resyncProgress } from './resync-monitor.ts';

/** The arrays of a /proc/mdstat captured in the ramdisk's kernel, as listArrays gives them (names as create_configuration gives them). */
function arraysOf(fixture: string, names: Record<string, string> = {}): MdArray[] {
  const text = readFileSync(new URL(`../tools/fixtures/mdadm/${fixture}`, import.meta.url), 'utf8');
  return parseMdstat(text).map((entry) => ({
    device: `/dev/${entry.name}`, name: names[entry.name] ?? null, active: entry.active, level: entry.level,
    members: entry.members.map((m) => `/dev/${m.name}`), sync: entry.sync,
  }));
}

describe('resyncProgress', () => {
  it('gives one item per array: running resync with percent, time left and speed, a delayed one, one in sync; the total in KiB', () => {
    const progress = resyncProgress(arraysOf('mdstat-all-levels-resync-delayed.txt', { md5: 'data', md0: 'root' }), ['/dev/md0', '/dev/md5', '/dev/md10']);
    expect(progress.items).toEqual([
      { name: '/dev/md0 (root)', stage: 'in sync' },
      { name: '/dev/md5 (data)', stage: 'resync', unit: 'KiB', done: 10624, total: 260096, message: '3.9%, 1.5 min left at 3 MiB/s' },
      { name: '/dev/md10', stage: 'resync delayed' },
    ]);
    expect(progress).toMatchObject({ stage: 'software RAID resync', done: 10624, total: 260096, unit: 'KiB' });
    expect(progress.message).toBe('/dev/md0 (root): in sync; /dev/md5 (data): resync 3.9%, 1.5 min left at 3 MiB/s; /dev/md10: resync delayed');
  });

  it('says when every array is in sync, and names an array that is gone (deleted meanwhile)', () => {
    const progress = resyncProgress(arraysOf('mdstat-all-levels-clean.txt'), ['/dev/md0', '/dev/md99']);
    expect(progress.stage).toBe('software RAID in sync');
    expect(progress.items).toEqual([{ name: '/dev/md0', stage: 'in sync' }, { name: '/dev/md99', stage: 'gone' }]);
    expect(progress).not.toHaveProperty('total');
  });
});
