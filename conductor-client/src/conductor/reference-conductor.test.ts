import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeFailure } from '@ingot/protocol/cli';
import { isIngotError } from '@ingot/protocol';
import { FAKE_DISK_IDENTIFIER, createFakeAgentServer, createTestCertificate, pairFakeAgent, type TestCertificate } from '../testing.ts';
import type { DeployImage } from './image-info.ts';
import { createReferenceConductor, type ReferenceConductor, type ReferenceNodeSpec } from './reference-conductor.ts';

/** The failure as one line (the wrappers' messages say where, their causes why). */
const failureOf = (promise: Promise<unknown>) => promise.then(() => 'resolved', (error: unknown) => describeFailure(error));

const UUID = '7d0c1f5e-2a3b-4c4d-8e5f-60718293a4b5';
const MAC = '52:54:00:01:02:03';
let cert: TestCertificate;
const cleanups: Array<() => Promise<void> | void> = [];
beforeAll(() => { cert = createTestCertificate(); });
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

const IMAGE: DeployImage = { url: 'http://192.0.2.1:8080/disk.img', checksum: { algorithm: 'sha256', value: 'cd'.repeat(32) } };

async function conductorWith(allowedAddresses = ['127.0.0.1'], node: Partial<ReferenceNodeSpec> = {}): Promise<{ conductor: ReferenceConductor; events: string[]; states: string[] }> {
  const conductor = await createReferenceConductor({ listenHost: '127.0.0.1', port: 0, nodes: [{ uuid: UUID, macs: [MAC], allowedAddresses, ...node }], pollIntervalMs: 10 });
  cleanups.push(() => conductor.close());
  const events: string[] = [];
  const states: string[] = [];
  for (const name of ['lookup', 'heartbeat', 'step-start', 'step-done', 'done', 'deployed', 'failed'] as const) conductor.on(name, () => events.push(name));
  conductor.on('state', ({ state }) => states.push(state));
  return { conductor, events, states };
}

const postedNames = (requests: Array<{ method: string; body: unknown }>) => requests.filter((r) => r.method === 'POST').map((r) => (r.body as { name: string }).name);

describe('reference conductor', () => {
  it('pairs an HTTPS agent, cleans it through the pinned certificate, then wipes its token', async () => {
    const { conductor, events } = await conductorWith();
    const agent = await createFakeAgentServer({ tls: cert });
    cleanups.push(() => agent.close());
    const pairing = await pairFakeAgent({ apiUrl: conductor.url, agent, macs: [MAC], agentVerifyCa: cert.cert });
    await pairing.heartbeat();
    const report = await conductor.waitForCleaning(UUID);
    expect(report.steps.map((s) => s.step)).toEqual(['erase_devices_metadata']);
    expect(conductor.state(UUID)).toBe('available');
    expect(events).toEqual(['lookup', 'heartbeat', 'step-start', 'step-done', 'done']);
    expect(agent.requests.every((r) => r.token === pairing.token)).toBe(true);
    const stored = await conductor.store.get(UUID);
    expect(stored?.tokenHash).toBeUndefined();
    expect(stored?.agentUrl).toBeUndefined();
    await expect(pairing.heartbeat()).rejects.toThrow(/Invalid or missing agent token/);
  });

  it('reports a failed step through the failed event and waitForCleaning', async () => {
    const { conductor, events } = await conductorWith();
    const agent = await createFakeAgentServer({ handlers: { 'clean.execute_clean_step': () => { throw new Error('disk is read-only'); } } });
    cleanups.push(() => agent.close());
    const pairing = await pairFakeAgent({ apiUrl: conductor.url, agent, macs: [MAC] });
    await pairing.heartbeat();
    expect(await failureOf(conductor.waitForCleaning(UUID))).toMatch(/disk is read-only/);
    expect(conductor.state(UUID)).toBe('clean failed');
    expect(events.at(-1)).toBe('failed');
  });

  it('never answers a lookup from an address off the node allow-list', async () => {
    const { conductor, events } = await conductorWith(['192.0.2.0/24']);
    const agent = await createFakeAgentServer();
    cleanups.push(() => agent.close());
    await expect(pairFakeAgent({ apiUrl: conductor.url, agent, macs: [MAC], lookupTimeoutMs: 300 })).rejects.toThrow(/HTTP 404/);
    expect(events).toEqual([]);
    expect((await conductor.store.get(UUID))?.tokenHash).toBeUndefined();
  });

  it('cleans, then deploys the image through the same agent (fast track), ends active and wipes the token', async () => {
    const { conductor, events, states } = await conductorWith(['127.0.0.1'], { deploy: { image: IMAGE }, rootDevice: { name: '/dev/vdb' } });
    const agent = await createFakeAgentServer({ tls: cert });
    cleanups.push(() => agent.close());
    const pairing = await pairFakeAgent({ apiUrl: conductor.url, agent, macs: [MAC], agentVerifyCa: cert.cert });
    await pairing.heartbeat();
    const report = await conductor.waitForDeployment(UUID);
    expect(report.rootUuid).toBe(FAKE_DISK_IDENTIFIER);
    expect(states).toEqual(['available', 'deploying', 'active']);
    expect(conductor.state(UUID)).toBe('active');
    expect(events).toEqual(['lookup', 'heartbeat', 'step-start', 'step-done', 'done', 'step-start', 'step-done', 'deployed']);
    expect(postedNames(agent.requests)).toEqual([
      'clean.get_clean_steps', 'clean.execute_clean_step',
      'deploy.get_deploy_steps', 'deploy.execute_deploy_step', 'standby.get_partition_uuids', 'standby.power_off',
    ]);
    const write = agent.requests.find((r) => (r.body as { name?: string } | undefined)?.name === 'deploy.execute_deploy_step')!;
    expect((write.body as { params: { node: unknown } }).params.node).toMatchObject({ uuid: UUID, provision_state: 'deploying', instance_info: { root_device: { name: '/dev/vdb' } } });
    expect((await conductor.store.get(UUID))?.tokenHash).toBeUndefined();
    await expect(pairing.heartbeat()).rejects.toThrow(/Invalid or missing agent token/);
  });

  it('ends in deploy failed naming the agent error when write_image fails, after cleaning succeeded', async () => {
    const { conductor, events, states } = await conductorWith(['127.0.0.1'], { deploy: { image: IMAGE } });
    const agent = await createFakeAgentServer({ handlers: { 'deploy.execute_deploy_step': () => { throw new Error('image download failed: HTTP 404 for http://192.0.2.1:8080/disk.img'); } } });
    cleanups.push(() => agent.close());
    const pairing = await pairFakeAgent({ apiUrl: conductor.url, agent, macs: [MAC] });
    await pairing.heartbeat();
    const error = await conductor.waitForDeployment(UUID).catch((e: unknown) => e);
    expect(isIngotError(error, 'INGOT_DEPLOYMENT_FAILED')).toBe(true);
    expect(describeFailure(error)).toMatch(/deploy\.write_image failed on the agent: .*HTTP 404/);
    await expect(conductor.waitForCleaning(UUID)).resolves.toMatchObject({ steps: [{ step: 'erase_devices_metadata' }] });
    expect(states).toEqual(['available', 'deploying', 'deploy failed']);
    expect(events.at(-1)).toBe('failed');
    expect(postedNames(agent.requests)).not.toContain('standby.power_off');
    expect((await conductor.store.get(UUID))?.tokenHash).toBeUndefined();
  });

  it('deploys without cleaning when the node starts in deploying', async () => {
    const { conductor, states } = await conductorWith(['127.0.0.1'], { state: 'deploying', deploy: { image: IMAGE } });
    const agent = await createFakeAgentServer();
    cleanups.push(() => agent.close());
    const pairing = await pairFakeAgent({ apiUrl: conductor.url, agent, macs: [MAC] });
    await pairing.heartbeat();
    await conductor.waitForDeployment(UUID);
    expect(states).toEqual(['active']);
    expect(postedNames(agent.requests)[0]).toBe('deploy.get_deploy_steps');
  });

  it('rejects waitForDeployment with the cleaning error when cleaning fails, and never deploys', async () => {
    const { conductor, states } = await conductorWith(['127.0.0.1'], { deploy: { image: IMAGE } });
    const agent = await createFakeAgentServer({ handlers: { 'clean.execute_clean_step': () => { throw new Error('disk is read-only'); } } });
    cleanups.push(() => agent.close());
    const pairing = await pairFakeAgent({ apiUrl: conductor.url, agent, macs: [MAC] });
    await pairing.heartbeat();
    expect(await failureOf(conductor.waitForDeployment(UUID))).toMatch(/disk is read-only/);
    expect(states).toEqual(['clean failed']);
    expect(postedNames(agent.requests).some((name) => name.startsWith('deploy.'))).toBe(false);
  });
});
