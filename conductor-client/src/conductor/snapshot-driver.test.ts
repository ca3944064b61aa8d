import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { IngotError, isIngotError, type SnapshotCaptureResult, type SnapshotTarget } from '@ingot/protocol';
import { AgentClient } from '../agent-client.ts';
import type { SnapshotStore } from '../snapshot/snapshot-store.ts';
import { createFakeAgentServer, type FakeAgentOptions } from '../testing/fake-agent-server.ts';
import { fakeSnapshotCapture } from '../testing/fake-snapshot.ts';
import { diskBytesFromInventory, driveSnapshot, type SnapshotProgress } from './snapshot-driver.ts';

const TOKEN = 'T'.repeat(43);
const log = pino({ level: 'silent' });
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const cleanup of cleanups.splice(0).reverse()) await cleanup(); });

async function client(options: FakeAgentOptions) {
  const agent = await createFakeAgentServer({ token: TOKEN, ...options });
  const agentClient = new AgentClient({ url: agent.url, token: TOKEN });
  cleanups.push(() => agent.close(), () => agentClient.close());
  return { agent, client: agentClient };
}

/** A store that keeps what was asked of it; `completeFails` makes complete() throw as a store refusing the manifest would. */
function recordingStore(completeFails = false) {
  const calls: string[] = [];
  let prepared = 0;
  const store: SnapshotStore = {
    type: 'swift', location: 'http://127.0.0.1:1/v1/AUTH_t/snapshots/node.img',
    async prepare(rawBytes): Promise<SnapshotTarget> {
      prepared = rawBytes;
      calls.push(`prepare ${rawBytes}`);
      return { type: 'swift', segment_urls: ['http://127.0.0.1:1/a?temp_url_sig=x&temp_url_expires=1', 'http://127.0.0.1:1/b?temp_url_sig=x&temp_url_expires=1'], segment_size: 64 * 1024 * 1024 };
    },
    async complete(result: SnapshotCaptureResult) {
      calls.push(`complete ${result.segments.length}`);
      if (completeFails) throw new IngotError('INGOT_SNAPSHOT_UPLOAD', { details: 'PUT the static large object\'s manifest: HTTP 400 Etag Mismatch' });
      return result.manifest;
    },
    async abandon() { calls.push('abandon'); },
    readUrl: async () => 'http://127.0.0.1:1/read',
    readManifest: async () => { throw new Error('unused'); },
  };
  return { store, calls, prepared: () => prepared };
}

describe('driveSnapshot', () => {
  it('signs URLs for the named disk\'s size, captures with progress, completes the object and reports the manifest', async () => {
    const { agent, client: agentClient } = await client({ handlers: { 'snapshot.capture': fakeSnapshotCapture({ polls: 2, stepMs: 30 }) } });
    const { store, calls } = recordingStore();
    const events: SnapshotProgress['type'][] = [];
    const report = await driveSnapshot({ client: agentClient, store, capture: { device: '/dev/vda', partitions: [1] }, log, pollIntervalMs: 10, onProgress: (e) => events.push(e.type) });
    expect(calls).toEqual([`prepare ${64 * 1024 * 1024}`, 'complete 1']);
    expect(report.manifest.format).toBe('ingot-snapshot/1');
    expect(report.location).toBe(store.location);
    expect(events[0]).toBe('prepared');
    expect(events).toContain('progress');
    expect(events.slice(-2)).toEqual(['captured', 'completed']);
    const posted = agent.requests.find((r) => (r.body as { name?: string } | undefined)?.name === 'snapshot.capture')!;
    expect((posted.body as { params: Record<string, unknown> }).params).toMatchObject({ device: '/dev/vda', partitions: [1], target: { type: 'swift', segment_size: 64 * 1024 * 1024 } });
  });

  it('abandons the upload and throws the agent\'s error when the capture fails', async () => {
    const { client: agentClient } = await client({ handlers: { 'snapshot.capture': () => { throw new IngotError('INGOT_SNAPSHOT_READ', { details: '/dev/vda: EIO at byte 4096' }); } } });
    const { store, calls } = recordingStore();
    const error = await driveSnapshot({ client: agentClient, store, capture: {}, rawBytes: 1024 * 1024, log, pollIntervalMs: 10 }).catch((e: unknown) => e);
    expect(isIngotError(error, 'INGOT_SNAPSHOT_READ')).toBe(true);
    expect(calls).toEqual(['prepare 1048576', 'abandon']);
  });

  it('abandons the upload when the store refuses to complete it', async () => {
    const { client: agentClient } = await client({ handlers: { 'snapshot.capture': fakeSnapshotCapture({ polls: 1, stepMs: 5 }) } });
    const { store, calls } = recordingStore(true);
    const error = await driveSnapshot({ client: agentClient, store, capture: {}, log, pollIntervalMs: 10 }).catch((e: unknown) => e);
    expect((error as Error).message).toContain('Etag Mismatch');
    expect(calls).toEqual([`prepare ${64 * 1024 * 1024}`, 'complete 1', 'abandon']);
  });

  it('aborts the capture on the agent, then abandons, when interrupted midway', async () => {
    const { agent, client: agentClient } = await client({ handlers: { 'snapshot.capture': fakeSnapshotCapture({ polls: 50, stepMs: 20 }), 'snapshot.abort': () => ({ aborted: true }) } });
    const { store, calls } = recordingStore();
    const interrupt = new AbortController();
    const run = driveSnapshot({ client: agentClient, store, capture: {}, log, pollIntervalMs: 10, signal: interrupt.signal, onProgress: (e) => { if (e.type === 'progress') interrupt.abort(); } });
    await expect(run).rejects.toThrow();
    expect(calls.at(-1)).toBe('abandon');
    expect(agent.requests.some((r) => (r.body as { name?: string } | undefined)?.name === 'snapshot.abort')).toBe(true);
  });
});

describe('diskBytesFromInventory', () => {
  const inventory = { disks: [{ name: '/dev/sda', size: 100 }, { name: '/dev/sdb', size: 300 }, { name: '/dev/sr0', size: null }] };
  it('takes the named disk\'s size, or the largest disk\'s when the agent chooses', () => {
    expect(diskBytesFromInventory(inventory, '/dev/sda')).toBe(100);
    expect(diskBytesFromInventory(inventory, undefined)).toBe(300);
  });
  it('refuses a device the agent does not have, naming the ones it has', () => {
    expect(() => diskBytesFromInventory(inventory, '/dev/nvme0n1')).toThrow(/\/dev\/nvme0n1 is not among the agent's disks \(\/dev\/sda, \/dev\/sdb\)/);
    expect(() => diskBytesFromInventory({}, undefined)).toThrow(/lists no disk/);
  });
});
