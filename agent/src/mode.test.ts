import { describe, expect, it } from 'vitest';
import { waitForInit } from './mode.ts';

describe('waitForInit', () => {
  it('returns at once without a path to wait for', async () => {
    let asked = 0;
    await waitForInit({ path: undefined, exists: async () => { asked += 1; return false; } });
    expect(asked).toBe(0);
  });

  it('polls until /init creates the file', async () => {
    let asked = 0;
    await waitForInit({ path: '/run/ingot/init-ready', pollMs: 1, exists: async (path) => { expect(path).toBe('/run/ingot/init-ready'); asked += 1; return asked >= 3; } });
    expect(asked).toBe(3);
  });

  it('gives up with the file named, reporting the wait on the way', async () => {
    const notices: number[] = [];
    await expect(waitForInit({ path: '/run/ingot/init-ready', pollMs: 1, timeoutMs: 30, exists: async () => false, onSlow: (ms) => notices.push(ms) }))
      .rejects.toThrow(/did not create \/run\/ingot\/init-ready within 0 s/);
    expect(notices).toEqual([]);
  });
});
