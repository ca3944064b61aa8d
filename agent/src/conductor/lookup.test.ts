import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { IngotError } from '@ingot/protocol';
import { createLogger } from '../log.ts';
import { lookupBackoffSeconds, lookupNode } from './lookup.ts';
import { nextHeartbeatDelayMs } from './heartbeater.ts';
import { createConductorApi, type ConductorApi } from './conductor-api.ts';

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

describe('a lookup that fails', () => {
  /** A port nothing listens on: bound once by the kernel's choice, then closed. */
  const refusedPort = async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    return port;
  };

  it('logs one warning per attempt, naming the URL, the reason and the next try, without a stack', async () => {
    const port = await refusedPort();
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', destination: { write: (line: string) => { lines.push(line); } } });
    const api = createConductorApi({ urls: [`http://127.0.0.1:${port}/`], insecure: false, timeoutMs: 5_000, log });
    let now = Date.parse('2026-01-01T10:00:00Z');
    const failure = await lookupNode({
      api, macs: ['52:54:00:00:00:01'], timeoutSeconds: 5, intervalSeconds: 1, log, signal: new AbortController().signal,
      random: () => 0, now: () => now, sleep: async (ms) => { now += ms; },
    }).then(() => undefined, (error: unknown) => error as IngotError);
    expect(failure).toBeInstanceOf(IngotError);
    const records = lines.map((line) => JSON.parse(line) as { level: number; msg: string; lookup?: Record<string, unknown> });
    const warnings = records.filter((record) => record.level >= 40);
    // Back-off of 1 s (no jitter): attempts at 0 to 4 s each wait 1 s; the sixth, at 5 s, would wait past the 5 s timeout.
    expect(warnings.map((record) => record.lookup?.attempt)).toEqual([1, 2, 3, 4, 5]);
    for (const [index, warning] of warnings.entries()) {
      expect(warning.msg).toBe(`lookup failed (attempt ${index + 1}): cannot reach the conductor at http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}; next try in 1 s, at ${new Date(Date.parse('2026-01-01T10:00:01Z') + index * 1000).toTimeString().slice(0, 8)}`);
      expect(warning.lookup).toMatchObject({ url: `http://127.0.0.1:${port}`, retryInSeconds: 1 });
    }
    expect(lines.join('')).not.toMatch(/"stack"|\bat .*\.ts:\d+/);
    expect(failure?.message).toMatch(/no node found after 5 s and 6 attempts \(last: cannot reach the conductor at http:\/\/127\.0\.0\.1:\d+: connect ECONNREFUSED/);
  });

  it('says each URL and its reason when every conductor URL fails', async () => {
    const [first, second] = [await refusedPort(), await refusedPort()];
    const api = createConductorApi({ urls: [`http://127.0.0.1:${first}`, `http://127.0.0.1:${second}`], insecure: false, timeoutMs: 5_000, log });
    await expect(api.lookup({ macs: ['52:54:00:00:00:01'] })).rejects.toThrow(
      `Lookup of the node failed: cannot reach any conductor URL: http://127.0.0.1:${first}: connect ECONNREFUSED 127.0.0.1:${first}; http://127.0.0.1:${second}: connect ECONNREFUSED 127.0.0.1:${second}`,
    );
  });
});
