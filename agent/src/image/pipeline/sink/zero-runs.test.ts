import { describe, expect, it } from 'vitest';
import { ZeroRuns } from './zero-runs.ts';

describe('zero runs', () => {
  it('coalesces adjacent skipped slots into one range and starts a new one after a gap', () => {
    const runs = new ZeroRuns();
    runs.add(4, 4);
    runs.add(8, 4);
    runs.add(16, 4);
    expect(runs.ranges).toEqual([{ start: 4, length: 8 }, { start: 16, length: 4 }]);
    runs.clear();
    expect(runs.ranges).toEqual([]);
  });
});
