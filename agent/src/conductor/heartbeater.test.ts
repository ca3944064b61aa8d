import { afterEach, describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import { IngotError } from '@ingot/protocol';
import { createHeartbeater } from './heartbeater.ts';
import type { ConductorApi } from './conductor-api.ts';

const log = pino({ level: 'silent' });
afterEach(() => { vi.useRealTimers(); });

function fakeApi(refuseAfter = Infinity) {
  const sent: number[] = [];
  const api: ConductorApi = {
    currentUrl: () => 'http://conductor',
    discoverVersion: async () => '1.68',
    lookup: async () => { throw new Error('not used'); },
    async heartbeat() {
      sent.push(Date.now());
      if (sent.length > refuseAfter) throw new IngotError('INGOT_HEARTBEAT_TOKEN_REFUSED', { details: 'Invalid or missing agent token received.' });
    },
  };
  return { api, sent };
}

describe('createHeartbeater', () => {
  it('sends the first heartbeat at once and the next after 0.3 to 0.6 of the timeout', async () => {
    vi.useFakeTimers({ now: 0 });
    const { api, sent } = fakeApi();
    const beater = createHeartbeater({ api, log, nodeUuid: 'n', heartbeatTimeoutSeconds: 100, random: () => 0.5, body: () => ({ callback_url: 'https://127.0.0.1:9999' }), onTokenRefused: () => undefined });
    beater.start();
    await vi.advanceTimersByTimeAsync(1);
    expect(sent).toEqual([0]);
    await vi.advanceTimersByTimeAsync(44_000);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(sent).toEqual([0, 45_000]);
    beater.stop();
  });

  it('sends an early heartbeat 5 s after the last one when forced, as when an async command ends', async () => {
    vi.useFakeTimers({ now: 0 });
    const { api, sent } = fakeApi();
    const beater = createHeartbeater({ api, log, nodeUuid: 'n', heartbeatTimeoutSeconds: 300, random: () => 0, body: () => ({ callback_url: 'https://127.0.0.1:9999' }), onTokenRefused: () => undefined });
    beater.start();
    await vi.advanceTimersByTimeAsync(1_000);
    beater.force();
    await vi.advanceTimersByTimeAsync(4_500);
    expect(sent).toEqual([0, 5_000]);
    beater.stop();
  });

  it('stops and reports when the conductor refuses the token', async () => {
    vi.useFakeTimers({ now: 0 });
    const { api, sent } = fakeApi(1);
    const refused: string[] = [];
    const beater = createHeartbeater({ api, log, nodeUuid: 'n', heartbeatTimeoutSeconds: 10, random: () => 0, body: () => ({ callback_url: 'https://127.0.0.1:9999' }), onTokenRefused: (reason) => refused.push(reason) });
    beater.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent).toHaveLength(2);
    expect(refused).toEqual(['Invalid or missing agent token received.']);
  });
});
