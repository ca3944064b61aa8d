import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verify } from 'unixcrypt';
import { isIngotError } from '@ingot/protocol';
import { AgentClient } from '../agent-client.ts';
import { createFakeAgentServer, createTestCertificate, pairFakeAgent, type FakeAgentOptions, type TestCertificate } from '../testing.ts';
import { createReferenceConductor } from './reference-conductor.ts';
import { driveRescue } from './rescue-driver.ts';
import { readRescuePassword } from './rescue-password.ts';

const TOKEN = 'R'.repeat(43);
const UUID = '0b6f3c1d-5e4a-4f2b-9c8d-7e6f5a4b3c2d';
const MAC = '52:54:00:0d:0e:0f';
const PASSWORD = 'open sesame';
let cert: TestCertificate;
const cleanups: Array<() => Promise<void> | void> = [];
beforeAll(() => { cert = createTestCertificate(); });
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

async function fakeAgent(options: FakeAgentOptions = {}) {
  const agent = await createFakeAgentServer({ token: TOKEN, tls: cert, ...options });
  const client = new AgentClient({ url: agent.url, token: TOKEN, ca: cert.cert, maxAttempts: 1 });
  cleanups.push(() => agent.close(), () => client.close());
  return { agent, client };
}

const sentParams = (agent: Awaited<ReturnType<typeof fakeAgent>>['agent']) => agent.requests
  .filter((r) => (r.body as { name?: string } | undefined)?.name === 'rescue.finalize_rescue')
  .map((r) => (r.body as { params: { rescue_password: string; hashed?: boolean } }).params);

// The hash itself (protocol's cryptSha512) is tested in protocol/src/crypt-hash.test.ts.
describe('the rescue password', () => {
  it('is read from the first line of a file, an empty one refused without echoing anything', () => {
    expect(readRescuePassword('pw with spaces\nsecond line\n', 'f')).toBe('pw with spaces');
    expect(readRescuePassword('pw\r\n', 'f')).toBe('pw');
    expect(() => readRescuePassword('\nsecret', 'f')).toThrow(/first line is empty/);
  });
});

describe('driveRescue', () => {
  it('sends the hash with hashed=true, and returns once the agent stopped answering', async () => {
    const { agent, client } = await fakeAgent();
    const report = await driveRescue({ client, password: PASSWORD, pollIntervalMs: 10, stopTimeoutMs: 5_000 });
    expect(report.hashed).toBe(true);
    const [params] = sentParams(agent);
    expect(params?.hashed).toBe(true);
    expect(verify(PASSWORD, params!.rescue_password)).toBe(true);
    expect(agent.stopped).toBe(true);
  });

  it('falls back to the plain password, without hashed, when the agent refuses hashes', async () => {
    const { agent, client } = await fakeAgent({ legacyRescue: true });
    const report = await driveRescue({ client, password: PASSWORD, pollIntervalMs: 10, stopTimeoutMs: 5_000 });
    expect(report.hashed).toBe(false);
    expect(sentParams(agent)).toHaveLength(2);
    expect(sentParams(agent)[1]).toEqual({ rescue_password: PASSWORD });
  });

  it('never sends the plain password when hashes are required', async () => {
    const { agent, client } = await fakeAgent({ legacyRescue: true });
    const error = await driveRescue({ client, password: PASSWORD, requireHashed: true }).catch((thrown: unknown) => thrown);
    expect(isIngotError(error, 'INGOT_INVALID_PARAMS')).toBe(true);
    expect(sentParams(agent)).toHaveLength(1);
    expect(JSON.stringify(agent.requests)).not.toContain(PASSWORD);
  });

  it('fails when the rescue itself fails on the agent, without retrying in plain text', async () => {
    const { agent, client } = await fakeAgent({ handlers: { 'rescue.finalize_rescue': () => { throw new Error('/etc is read-only'); } } });
    const error = await driveRescue({ client, password: PASSWORD }).catch((thrown: unknown) => thrown);
    expect(isIngotError(error, 'INGOT_COMMAND_FAILED') && error.message).toContain('/etc is read-only');
    expect(sentParams(agent)).toHaveLength(1);
  });
});

describe('the reference conductor\'s rescue', () => {
  it('rescues a node in rescue wait on its agent\'s first heartbeat, then wipes the token', async () => {
    const conductor = await createReferenceConductor({ listenHost: '127.0.0.1', port: 0, pollIntervalMs: 10, nodes: [{ uuid: UUID, macs: [MAC], rescue: { password: PASSWORD } }] });
    cleanups.push(() => conductor.close());
    const states: string[] = [];
    conductor.on('state', ({ state }) => states.push(state));
    expect(conductor.state(UUID)).toBe('rescue wait');
    const agent = await createFakeAgentServer({ tls: cert });
    cleanups.push(() => agent.close());
    const pairing = await pairFakeAgent({ apiUrl: conductor.url, agent, macs: [MAC], agentVerifyCa: cert.cert });
    await pairing.heartbeat();
    const report = await conductor.waitForRescue(UUID);
    expect(report.hashed).toBe(true);
    expect(states).toEqual(['rescue']);
    expect(agent.stopped).toBe(true);
    expect((await conductor.store.get(UUID))?.tokenHash).toBeUndefined();
  });

  it('reports rescue failed when the agent refuses the hash and hashes are required', async () => {
    const conductor = await createReferenceConductor({ listenHost: '127.0.0.1', port: 0, pollIntervalMs: 10, nodes: [{ uuid: UUID, macs: [MAC], rescue: { password: PASSWORD, requireHashed: true } }] });
    cleanups.push(() => conductor.close());
    const agent = await createFakeAgentServer({ legacyRescue: true });
    cleanups.push(() => agent.close());
    const pairing = await pairFakeAgent({ apiUrl: conductor.url, agent, macs: [MAC] });
    await pairing.heartbeat();
    await expect(conductor.waitForRescue(UUID)).rejects.toThrow(/hashed/);
    expect(conductor.state(UUID)).toBe('rescue failed');
  });
});
