import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient } from '../index.ts';
import { createFakeAgentServer, type FakeAgentOptions } from '../testing/fake-agent-server.ts';
import { collectRamdiskLogs, ramdiskLogsFileName, shouldCollectLogs } from './ramdisk-logs.ts';

const TOKEN = 'k'.repeat(43);
const NODE = '0f8e3c6a-1111-4222-8333-944455556666';
const AT = new Date('2026-03-04T05:06:07.890Z');
const ARCHIVE = gzipSync(Buffer.from('journal: erase_devices_metadata done\n'));
const log = pino({ level: 'silent' });
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ingot-ramdisk-logs-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function clientFor(options: FakeAgentOptions = {}) {
  const agent = await createFakeAgentServer({ token: TOKEN, handlers: { 'log.collect_system_logs': () => ({ system_logs: ARCHIVE.toString('base64') }) }, ...options });
  const client = new AgentClient({ url: agent.url, token: TOKEN });
  cleanups.push(() => agent.close(), () => client.close());
  return { agent, client };
}

describe('ramdiskLogsFileName', () => {
  it('names the archive as Ironic does: node uuid, then the timestamp in UTC', () => {
    expect(ramdiskLogsFileName({ nodeUuid: NODE, at: AT })).toBe(`${NODE}_2026-03-04-05-06-07.tar.gz`);
  });

  it('puts the node name, instance uuid and label between them when there are some, in Ironic\'s order', () => {
    expect(ramdiskLogsFileName({ nodeUuid: NODE, nodeName: 'rack1-node7', instanceUuid: 'i-1', label: 'cleaning', at: AT }))
      .toBe(`${NODE}_rack1-node7_i-1_cleaning_2026-03-04-05-06-07.tar.gz`);
  });

  it('keeps a node name from leaving the directory', () => {
    expect(ramdiskLogsFileName({ nodeUuid: NODE, nodeName: '../../etc/x y', at: AT })).toBe(`${NODE}_..-..-etc-x-y_2026-03-04-05-06-07.tar.gz`);
  });
});

describe('shouldCollectLogs', () => {
  it.each([
    ['always', 'success', true], ['always', 'failure', true],
    ['on-failure', 'success', false], ['on-failure', 'failure', true],
    ['never', 'success', false], ['never', 'failure', false],
  ] as const)('with %s after a %s answers %s', (policy, outcome, expected) => {
    expect(shouldCollectLogs(policy, outcome)).toBe(expected);
  });
});

describe('collectRamdiskLogs', () => {
  it('writes the decoded archive under Ironic\'s name, readable by its owner only, and returns it as the agent sent it', async () => {
    const { agent, client } = await clientFor();
    const dir = join(tempDir(), 'deploy-logs');
    const { logs, error } = await collectRamdiskLogs({ client, node: { uuid: NODE }, phase: 'clean', outcome: 'failure', dir, log, now: () => AT });
    expect(error).toBeUndefined();
    expect(logs).toEqual({
      phase: 'clean', outcome: 'failure', collectedAt: AT.toISOString(), systemLogs: ARCHIVE.toString('base64'), bytes: ARCHIVE.length,
      fileName: `${NODE}_cleaning_2026-03-04-05-06-07.tar.gz`, path: join(dir, `${NODE}_cleaning_2026-03-04-05-06-07.tar.gz`),
    });
    expect(readFileSync(logs!.path!).equals(ARCHIVE)).toBe(true);
    expect(statSync(logs!.path!).mode & 0o777).toBe(0o600);
    expect(agent.requests.map((r) => [(r.body as { name: string }).name, r.query.wait])).toEqual([['log.collect_system_logs', 'true']]);
  });

  it('returns the archive without a path when no directory is given, and labels nothing for a deploy', async () => {
    const { client } = await clientFor();
    const { logs } = await collectRamdiskLogs({ client, node: { uuid: NODE }, phase: 'deploy', outcome: 'success', log, now: () => AT });
    expect(logs).toMatchObject({ fileName: `${NODE}_2026-03-04-05-06-07.tar.gz`, systemLogs: ARCHIVE.toString('base64') });
    expect(logs).not.toHaveProperty('path');
  });

  it('returns the agent\'s error instead of throwing when the command fails', async () => {
    const { client } = await clientFor({ handlers: { 'log.collect_system_logs': () => { throw new Error('journalctl: out of memory'); } } });
    const outcome = await collectRamdiskLogs({ client, node: { uuid: NODE }, phase: 'clean', outcome: 'failure', log });
    expect(outcome.logs).toBeUndefined();
    expect(String(outcome.error)).toContain('journalctl: out of memory');
  });

  it('still returns the archive, without a path, when the directory cannot be written', async () => {
    const { client } = await clientFor();
    const notADir = join(tempDir(), 'file');
    writeFileSync(notADir, '');
    const { logs, error } = await collectRamdiskLogs({ client, node: { uuid: NODE }, phase: 'deploy', outcome: 'failure', dir: notADir, log });
    expect(error).toBeUndefined();
    expect(logs?.systemLogs).toBe(ARCHIVE.toString('base64'));
    expect(logs).not.toHaveProperty('path');
  });
});
