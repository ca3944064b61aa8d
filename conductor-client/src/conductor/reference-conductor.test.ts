import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFakeAgentServer, createTestCertificate, pairFakeAgent, type TestCertificate } from '../testing.ts';
import { createReferenceConductor, type ReferenceConductor } from './reference-conductor.ts';

const UUID = '7d0c1f5e-2a3b-4c4d-8e5f-60718293a4b5';
const MAC = '52:54:00:01:02:03';
let cert: TestCertificate;
const cleanups: Array<() => Promise<void> | void> = [];
beforeAll(() => { cert = createTestCertificate(); });
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

async function conductorWith(allowedAddresses = ['127.0.0.1']): Promise<{ conductor: ReferenceConductor; events: string[] }> {
  const conductor = await createReferenceConductor({ listenHost: '127.0.0.1', port: 0, nodes: [{ uuid: UUID, macs: [MAC], allowedAddresses }], pollIntervalMs: 10 });
  cleanups.push(() => conductor.close());
  const events: string[] = [];
  for (const name of ['lookup', 'heartbeat', 'step-start', 'step-done', 'done', 'failed'] as const) conductor.on(name, () => events.push(name));
  return { conductor, events };
}

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
    await expect(conductor.waitForCleaning(UUID)).rejects.toThrow(/disk is read-only/);
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
});
