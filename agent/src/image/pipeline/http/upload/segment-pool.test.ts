import { describe, expect, it } from 'vitest';
import { SegmentPool } from './segment-pool.ts';

describe('SegmentPool', () => {
  it('allocates up to its capacity, then makes the next acquire wait until a buffer is released, and reuses it', async () => {
    const pool = new SegmentPool(3, 16);
    const buffers = [await pool.acquire(), await pool.acquire(), await pool.acquire()];
    expect(pool.allocated).toBe(3);
    let fourth: Buffer | undefined;
    const waiting = pool.acquire().then((buffer) => { fourth = buffer; });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(fourth).toBeUndefined();
    pool.release(buffers[1]!);
    await waiting;
    expect(fourth).toBe(buffers[1]);
    expect(pool.allocated).toBe(3);
    expect(pool.inUse).toBe(3);
  });

  it('rejects waiting and later acquires with the failure once failed', async () => {
    const pool = new SegmentPool(1, 8);
    await pool.acquire();
    const waiting = pool.acquire();
    pool.fail(new Error('segment 4 failed'));
    await expect(waiting).rejects.toThrow('segment 4 failed');
    await expect(pool.acquire()).rejects.toThrow('segment 4 failed');
  });

  it('refuses a capacity or size that is not a positive integer', () => {
    expect(() => new SegmentPool(0, 8)).toThrow(RangeError);
    expect(() => new SegmentPool(2, 0)).toThrow(RangeError);
  });
});
