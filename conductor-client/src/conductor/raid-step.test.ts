import { describe, expect, it } from 'vitest';
import { describeRaidResult } from './raid-step.ts';

describe('describeRaidResult', () => {
  it('names each logical disk with its level and size, and the root device the agent chose', () => {
    expect(describeRaidResult({
      logical_disks: [
        { volume_name: 'root', raid_level: '1', size_gb: 64, controller: 'software', root_device_hint: { name: '/dev/md0' } },
        { raid_level: '1+0', size_gb: 'MAX', controller: 'software' },
      ],
    })).toBe('"root" RAID 1 64 GiB, root device /dev/md0; logical_disks[1] RAID 1+0 MAX');
  });

  it('says so when the agent reported no logical disks, rather than guessing', () => {
    for (const result of [null, {}, { logical_disks: [] }, 'done', { logical_disks: 'md0' }]) expect(describeRaidResult(result)).toBe('the agent reported no logical disks');
  });

  it('keeps the line one line and short whatever an agent sends in a field', () => {
    const line = describeRaidResult({ logical_disks: [{ volume_name: `a\nb${'x'.repeat(500)}`, raid_level: '1\n5', size_gb: '1\n', root_device_hint: { name: '/dev/md0\nrm' } }, 7, null] });
    expect(line).not.toMatch(/[\n\r]/);
    expect(line.length).toBeLessThan(200);
    expect(line).toMatch(/^"a\\nbx+…"; logical_disks\[1\]; logical_disks\[2\]$/);
  });
});
