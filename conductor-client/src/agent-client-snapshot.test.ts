import { describe, expect, it, afterEach } from 'vitest';
import { IngotError, isIngotError, type CommandProgress, type SnapshotCaptureParams } from '@ingot/protocol';
import { AgentClient } from './agent-client.ts';
import { createFakeAgentServer, type FakeAgentOptions } from './testing/fake-agent-server.ts';
import { fakeSnapshotCapture } from './testing/fake-snapshot.ts';

const TOKEN = 'T'.repeat(43);
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const cleanup of cleanups.splice(0).reverse()) await cleanup(); });

async function agentAndClient(options: FakeAgentOptions = {}) {
  const agent = await createFakeAgentServer({ token: TOKEN, ...options });
  const client = new AgentClient({ url: agent.url, token: TOKEN });
  cleanups.push(() => agent.close(), () => client.close());
  return { agent, client };
}

const PARAMS: SnapshotCaptureParams = {
  device: '/dev/vda', partitions: [1, 2], frame_size: 4 * 1024 * 1024,
  target: { type: 'swift', segment_urls: ['http://127.0.0.1:1/v1/AUTH_t/c/o.segments/00000000?temp_url_sig=s&temp_url_expires=1'], segment_size: 64 * 1024 * 1024 },
};

describe('AgentClient snapshots', () => {
  it('posts snapshot.capture without waiting, then polls it to its result, passing each progress on', async () => {
    const { agent, client } = await agentAndClient({ handlers: { 'snapshot.capture': fakeSnapshotCapture({ polls: 3, stepMs: 30 }) } });
    const started = await client.captureSnapshot(PARAMS);
    expect(started.command_status).toBe('RUNNING');
    const post = agent.requests.find((r) => r.method === 'POST')!;
    expect(post.query).toEqual({ wait: 'false' });
    expect(post.body).toEqual({ name: 'snapshot.capture', params: PARAMS });
    const progress: CommandProgress[] = [];
    const result = await client.waitForSnapshot(started, { intervalMs: 10, onProgress: (r) => { if (r?.command_progress) progress.push(r.command_progress); } });
    expect(result.target).toBe('swift');
    expect(result.manifest.format).toBe('ingot-snapshot/1');
    expect(result.segments.map((s) => s.index)).toEqual([0]);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0]).toMatchObject({ stage: 'capturing', unit: 'bytes' });
  });

  it('throws the agent\'s error, code kept, when the capture fails', async () => {
    const { client } = await agentAndClient({
      handlers: {
        'snapshot.capture': () => { throw new IngotError('INGOT_SNAPSHOT_UPLOAD', { details: 'segment 3: HTTP 401 from the store after 4 attempts' }); },
      },
    });
    const started = await client.captureSnapshot(PARAMS);
    const error = await client.waitForSnapshot(started, { intervalMs: 10 }).catch((e: unknown) => e);
    expect(isIngotError(error, 'INGOT_SNAPSHOT_UPLOAD')).toBe(true);
    expect((error as Error).message).toContain('segment 3');
  });

  it('refuses a result that holds no manifest, as an agent API error', async () => {
    const { client } = await agentAndClient({ handlers: { 'snapshot.capture': () => ({ target: 'swift', segments: [], manifest: { format: 'other' } }) } });
    const started = await client.captureSnapshot(PARAMS);
    const error = await client.waitForSnapshot(started, { intervalMs: 10 }).catch((e: unknown) => e);
    expect(isIngotError(error, 'INGOT_AGENT_API_ERROR')).toBe(true);
    expect((error as Error).message).toContain('no valid manifest');
  });

  it('sends snapshot.abort synchronously and returns its result', async () => {
    const { agent, client } = await agentAndClient({ handlers: { 'snapshot.abort': () => ({ aborted: true }) } });
    const aborted = await client.abortSnapshot();
    expect(aborted.command_result).toEqual({ aborted: true });
    expect(agent.requests.at(-1)).toMatchObject({ method: 'POST', query: { wait: 'true' }, body: { name: 'snapshot.abort', params: {} } });
  });
});
