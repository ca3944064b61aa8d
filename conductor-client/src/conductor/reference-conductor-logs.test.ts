import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { describeFailure } from '@ingot/protocol/cli';
import { createFakeAgentServer, pairFakeAgent, type FakeAgentPairing, type FakeCommandHandler } from '../testing.ts';
import type { DeployImage } from './image-info.ts';
import {
  createReferenceConductor, type CollectLogsPolicy, type RamdiskLogs, type ReferenceConductor, type ReferenceNodeSpec,
} from './reference-conductor.ts';

/** The failure as one line (the wrappers' messages say where, their causes why). */
const failureOf = (promise: Promise<unknown>) => promise.then(() => 'resolved', (error: unknown) => describeFailure(error));

const UUID = '7d0c1f5e-2a3b-4c4d-8e5f-60718293a4b5';
const MAC = '52:54:00:01:02:03';
const IMAGE: DeployImage = { url: 'http://192.0.2.1:8080/disk.img', checksum: { algorithm: 'sha256', value: 'cd'.repeat(32) } };
const ARCHIVE = gzipSync(Buffer.from('ingot-agent: erase_devices_metadata finished\n'));
const STAMP = '\\d{4}-\\d{2}-\\d{2}-\\d{2}-\\d{2}-\\d{2}';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

/** What the conductor looked like while the agent was answering log.collect_system_logs. */
interface SeenAtCollection { state: string | undefined; tokenStored: boolean; lookupAllowed: boolean | undefined; heartbeat: string }

/**
 * A conductor and a paired fake agent whose collect_system_logs handler takes
 * evidence of the order: the node's state, whether the conductor still stores
 * the token, and whether it still accepts a heartbeat with it, at that moment.
 */
async function scenario(options: { collectLogs?: CollectLogsPolicy; logsDir?: string; node?: Partial<ReferenceNodeSpec>; handlers?: Record<string, FakeCommandHandler>; collect?: FakeCommandHandler } = {}) {
  const conductor: ReferenceConductor = await createReferenceConductor({
    listenHost: '127.0.0.1', port: 0, pollIntervalMs: 10, collectLogs: options.collectLogs, logsDir: options.logsDir,
    nodes: [{ uuid: UUID, macs: [MAC], allowedAddresses: ['127.0.0.1'], ...options.node }],
  });
  cleanups.push(() => conductor.close());
  const seen: SeenAtCollection[] = [];
  let pairing: FakeAgentPairing | undefined;
  const agent = await createFakeAgentServer({
    handlers: {
      ...options.handlers,
      'log.collect_system_logs': async (params, context) => {
        const stored = await conductor.store.get(UUID);
        const heartbeat = await pairing!.heartbeat().then(() => 'accepted', (error: Error) => error.message);
        seen.push({ state: conductor.state(UUID), tokenStored: stored?.tokenHash !== undefined, lookupAllowed: stored?.lookupAllowed, heartbeat });
        return options.collect ? options.collect(params, context) : { system_logs: ARCHIVE.toString('base64') };
      },
    },
  });
  cleanups.push(() => agent.close());
  const events: string[] = [];
  const collected: RamdiskLogs[] = [];
  for (const name of ['step-start', 'step-done', 'done', 'deployed', 'failed', 'logs-failed'] as const) conductor.on(name, () => events.push(name));
  conductor.on('logs', ({ logs }) => { events.push(`logs:${logs.phase}`); collected.push(logs); });
  conductor.on('state', ({ state }) => events.push(`state:${state}`));
  pairing = await pairFakeAgent({ apiUrl: conductor.url, agent, macs: [MAC] });
  await pairing.heartbeat();
  const posted = () => agent.requests.filter((r) => r.method === 'POST').map((r) => (r.body as { name: string }).name);
  return { conductor, agent, pairing, seen, events, collected, posted };
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ingot-conductor-logs-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const stillPaired = (state: string): SeenAtCollection => ({ state, tokenStored: true, lookupAllowed: true, heartbeat: 'accepted' });

describe('the reference conductor collects the ramdisk logs', () => {
  it('by default (on-failure) leaves a successful cleaning alone: no collect_system_logs, no logs in the report', async () => {
    const { conductor, posted, seen } = await scenario();
    const report = await conductor.waitForCleaning(UUID);
    expect(report).not.toHaveProperty('logs');
    expect(posted()).not.toContain('log.collect_system_logs');
    expect(seen).toEqual([]);
  });

  it('by default collects when a clean step fails, while the token is still accepted, then wipes it and reports the archive with the failure', async () => {
    const dir = tempDir();
    const { conductor, pairing, seen, events, collected } = await scenario({ logsDir: dir, handlers: { 'clean.execute_clean_step': () => { throw new Error('disk is read-only'); } } });
    const failed = new Promise<RamdiskLogs | undefined>((resolve) => conductor.once('failed', ({ logs }) => resolve(logs)));
    expect(await failureOf(conductor.waitForCleaning(UUID))).toMatch(/disk is read-only/);
    expect(seen).toEqual([stillPaired('cleaning')]);
    expect(events).toEqual(['step-start', 'logs:clean', 'state:clean failed', 'failed']);
    const logs = await failed;
    expect(logs).toMatchObject({ phase: 'clean', outcome: 'failure', systemLogs: ARCHIVE.toString('base64') });
    expect(collected).toEqual([logs]);
    // Ironic's name with its 'cleaning' label, written where asked, holding the archive as the agent sent it.
    expect(readdirSync(dir)).toEqual([logs!.fileName]);
    expect(logs!.fileName).toMatch(new RegExp(`^${UUID}_cleaning_${STAMP}\\.tar\\.gz$`));
    expect(logs!.path).toBe(join(dir, logs!.fileName));
    expect(gunzipSync(readFileSync(logs!.path!)).toString()).toBe('ingot-agent: erase_devices_metadata finished\n');
    expect((await conductor.store.get(UUID))?.tokenHash).toBeUndefined();
    await expect(pairing.heartbeat()).rejects.toThrow(/Invalid or missing agent token/);
  });

  it('with always, collects at the end of cleaning before the token is wiped and returns the archive in the report', async () => {
    const { conductor, pairing, seen, events } = await scenario({ collectLogs: 'always' });
    const report = await conductor.waitForCleaning(UUID);
    expect(seen).toEqual([stillPaired('cleaning')]);
    expect(events).toEqual(['step-start', 'step-done', 'logs:clean', 'state:available', 'done']);
    expect(gunzipSync(Buffer.from(report.logs!.systemLogs, 'base64')).toString()).toContain('erase_devices_metadata finished');
    expect(report.logs).toMatchObject({ phase: 'clean', outcome: 'success', bytes: ARCHIVE.length });
    expect(report.logs).not.toHaveProperty('path');
    expect((await conductor.store.get(UUID))?.tokenHash).toBeUndefined();
    await expect(pairing.heartbeat()).rejects.toThrow(/Invalid or missing agent token/);
  });

  it('with always, collects after cleaning and again before the deploy\'s power_off, each archive under its own name', async () => {
    const dir = tempDir();
    const { conductor, seen, posted } = await scenario({ collectLogs: 'always', logsDir: dir, node: { name: 'rack1-node7', deploy: { image: IMAGE } } });
    const cleaned = await conductor.waitForCleaning(UUID);
    const deployed = await conductor.waitForDeployment(UUID);
    expect(seen).toEqual([stillPaired('cleaning'), stillPaired('deploying')]);
    expect(posted()).toEqual([
      'clean.get_clean_steps', 'clean.execute_clean_step', 'log.collect_system_logs',
      'deploy.get_deploy_steps', 'deploy.execute_deploy_step', 'standby.get_partition_uuids', 'log.collect_system_logs', 'standby.power_off',
    ]);
    expect(cleaned.logs?.fileName).toMatch(new RegExp(`^${UUID}_rack1-node7_cleaning_${STAMP}\\.tar\\.gz$`));
    expect(deployed.logs?.fileName).toMatch(new RegExp(`^${UUID}_rack1-node7_${STAMP}\\.tar\\.gz$`));
    expect(deployed.logs).toMatchObject({ phase: 'deploy', outcome: 'success' });
    expect(deployed).toMatchObject({ poweredOff: true });
    expect(readdirSync(dir).sort()).toEqual([cleaned.logs!.fileName, deployed.logs!.fileName].sort());
  });

  it('by default collects when write_image fails, before the token is wiped, and the deploy still ends in deploy failed', async () => {
    const { conductor, seen, posted } = await scenario({ node: { deploy: { image: IMAGE } }, handlers: { 'deploy.execute_deploy_step': () => { throw new Error('image download failed: HTTP 404'); } } });
    const failed = new Promise<RamdiskLogs | undefined>((resolve) => conductor.once('failed', ({ logs }) => resolve(logs)));
    expect(await failureOf(conductor.waitForDeployment(UUID))).toMatch(/HTTP 404/);
    expect(seen).toEqual([stillPaired('deploying')]);
    expect(await failed).toMatchObject({ phase: 'deploy', outcome: 'failure', fileName: expect.stringMatching(new RegExp(`^${UUID}_${STAMP}\\.tar\\.gz$`)) });
    expect(posted().slice(-2)).toEqual(['deploy.execute_deploy_step', 'log.collect_system_logs']);
    expect(conductor.state(UUID)).toBe('deploy failed');
  });

  it('with never, does not ask for the logs even when cleaning fails', async () => {
    const { conductor, posted, events } = await scenario({ collectLogs: 'never', handlers: { 'clean.execute_clean_step': () => { throw new Error('disk is read-only'); } } });
    expect(await failureOf(conductor.waitForCleaning(UUID))).toMatch(/disk is read-only/);
    expect(posted()).not.toContain('log.collect_system_logs');
    expect(events).toEqual(['step-start', 'state:clean failed', 'failed']);
  });

  it('finishes cleaning as usual when collect_system_logs fails, reporting the failure as logs-failed', async () => {
    const { conductor, seen, events, pairing } = await scenario({ collectLogs: 'always', collect: () => { throw new Error('journalctl: out of memory'); } });
    const logsFailed = new Promise<Error>((resolve) => conductor.once('logs-failed', ({ error }) => resolve(error)));
    const report = await conductor.waitForCleaning(UUID);
    expect(report.steps.map((s) => s.step)).toEqual(['erase_devices_metadata']);
    expect(report).not.toHaveProperty('logs');
    expect(String(await logsFailed)).toContain('journalctl: out of memory');
    expect(seen).toEqual([stillPaired('cleaning')]);
    expect(events).toEqual(['step-start', 'step-done', 'logs-failed', 'state:available', 'done']);
    await expect(pairing.heartbeat()).rejects.toThrow(/Invalid or missing agent token/);
  });

  it('still reports the cleaning failure itself when collecting the logs fails too', async () => {
    const { conductor, events } = await scenario({
      handlers: { 'clean.execute_clean_step': () => { throw new Error('disk is read-only'); } },
      collect: () => { throw new Error('no space left for the archive'); },
    });
    expect(await failureOf(conductor.waitForCleaning(UUID))).toMatch(/disk is read-only/);
    expect(events).toEqual(['step-start', 'logs-failed', 'state:clean failed', 'failed']);
  });
});
