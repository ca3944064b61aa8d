import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { IngotError } from '@ingot/protocol';
import { lookupBackoffSeconds, lookupNode } from './lookup.ts';
import { nextHeartbeatDelayMs } from './heartbeater.ts';
import type { ConductorApi } from './conductor-api.ts';

const log = pino({ level: 'silent' });

describe('lookup back-off and heartbeat interval', () => {
  it('draws the lookup wait between the interval and a doubling ceiling capped at 60 s', () => {
    expect(lookupBackoffSeconds(1, 1, () => 1)).toBe(1);
    expect(lookupBackoffSeconds(4, 1, () => 1)).toBe(8);
    expect(lookupBackoffSeconds(20, 1, () => 1)).toBe(60);
    expect(lookupBackoffSeconds(20, 1, () => 0)).toBe(1);
  });

  it('spreads heartbeats over 0.3 to 0.6 of the timeout after a success and 5 to 10 s after a failure', () => {
    expect(nextHeartbeatDelayMs(true, 300, () => 0)).toBe(90_000);
    expect(nextHeartbeatDelayMs(true, 300, () => 1)).toBe(180_000);
    expect(nextHeartbeatDelayMs(false, 300, () => 0)).toBe(5_000);
    expect(nextHeartbeatDelayMs(false, 300, () => 1)).toBe(10_000);
  });
});

describe('lookupNode', () => {
  const fakeApi = (answers: Array<IngotError | 'found'>): ConductorApi & { calls: number } => {
    const api = {
      calls: 0,
      currentUrl: () => 'http://conductor',
      discoverVersion: async () => '1.68',
      heartbeat: async () => undefined,
      async lookup() {
        const answer = answers[Math.min(api.calls++, answers.length - 1)]!;
        if (answer === 'found') return { node: { uuid: 'n1' }, config: { heartbeat_timeout: 300 } };
        throw answer;
      },
    };
    return api;
  };

  it('retries until the conductor knows the node, waiting extra after a 409', async () => {
    const waits: number[] = [];
    const api = fakeApi([new IngotError('INGOT_LOOKUP_FAILED', { status: 404 }), new IngotError('INGOT_LOOKUP_FAILED', { status: 409 }), 'found']);
    const found = await lookupNode({ api, macs: ['52:54:00:00:00:01'], timeoutSeconds: 600, intervalSeconds: 1, log, signal: new AbortController().signal, random: () => 0, sleep: async (ms) => { waits.push(ms); } });
    expect(found.node.uuid).toBe('n1');
    expect(waits).toEqual([1000, 6000]);
  });

  it('gives up after the total timeout with the last reason and the MACs it used', async () => {
    let now = 0;
    const api = fakeApi([new IngotError('INGOT_LOOKUP_FAILED', { status: 404, details: 'answered 404' })]);
    await expect(lookupNode({ api, macs: ['52:54:00:00:00:01'], timeoutSeconds: 10, intervalSeconds: 1, log, signal: new AbortController().signal, random: () => 1, now: () => now, sleep: async (ms) => { now += ms; } }))
      .rejects.toThrow(/no node found after 10 s .*answered 404.*52:54:00:00:00:01/);
  });

  it('refuses to look up with no MAC and no node UUID', async () => {
    await expect(lookupNode({ api: fakeApi(['found']), macs: [], timeoutSeconds: 10, intervalSeconds: 1, log, signal: new AbortController().signal }))
      .rejects.toThrow(/no MAC address/);
  });
});
