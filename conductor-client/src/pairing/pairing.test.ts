import { beforeAll, describe, expect, it, vi } from 'vitest';
import { REDACTED_TOKEN, isIngotError, type ErrorCode } from '@ingot/protocol';
import { createMemoryNodeStore, createNodeRecord, type NodeStore } from './node-store.ts';
import { createPairing, type Pairing, type PairingOptions } from './pairing.ts';
import { createTestCertificate } from '../testing/test-certificate.ts';

const UUID = '1be26c0b-03f2-4d2e-ae87-c02d7f33c123';
const MAC = '52:54:00:12:34:56';
const CALLBACK = 'https://192.0.2.10:9999';
const PEER = '192.0.2.10';
let pemA: string;
let pemB: string;

beforeAll(() => {
  pemA = createTestCertificate({ ip: '192.0.2.10' }).cert;
  pemB = createTestCertificate({ ip: '192.0.2.10' }).cert;
});

interface Setup { store: NodeStore; pairing: Pairing; tokens: string[] }

async function setup(overrides: Partial<PairingOptions> = {}, record: Parameters<typeof createNodeRecord>[0] = { uuid: UUID }): Promise<Setup> {
  const store = createMemoryNodeStore([createNodeRecord({ name: 'node-1', macs: [MAC], lookupAllowed: true, allowedAddresses: ['192.0.2.0/24'], ...record })]);
  const tokens: string[] = [];
  const pairing = createPairing({ store, onTokenIssued: (_uuid, token) => tokens.push(token), ...overrides });
  return { store, pairing, tokens };
}

async function paired(overrides: Partial<PairingOptions> = {}): Promise<Setup & { token: string }> {
  const s = await setup(overrides);
  const reply = await s.pairing.lookup({ addresses: [MAC], apiVersion: '1.68', remoteAddress: PEER });
  return { ...s, token: String(reply.config.agent_token) };
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<Error> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(isIngotError(error, code), `expected ${code}, got ${String(error)}`).toBe(true);
  return error as Error;
}

const beat = (token: string, extra: Record<string, unknown> = {}) => ({ callback_url: CALLBACK, agent_token: token, agent_version: '10.0.0', ...extra });

describe('lookup', () => {
  it('issues the token once at API 1.62+ and answers "******" afterwards, storing only a hash', async () => {
    const { pairing, store, tokens } = await setup();
    const first = await pairing.lookup({ addresses: 'aa:bb:cc:dd:ee:ff,52-54-00-12-34-56', apiVersion: '1.68', remoteAddress: PEER });
    const token = first.config.agent_token;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(tokens).toEqual([token]);
    expect(first.config).toMatchObject({ heartbeat_timeout: 300, agent_token_required: true });
    const second = await pairing.lookup({ nodeUuid: UUID, apiVersion: '1.68', remoteAddress: PEER });
    expect(second.config.agent_token).toBe(REDACTED_TOKEN);
    expect(second.node.driver_internal_info?.agent_secret_token).toBe(REDACTED_TOKEN);
    const stored = JSON.stringify(await store.get(UUID));
    expect(stored).not.toContain(String(token));
    expect((await store.get(UUID))?.tokenHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('issues no token below API 1.62 and answers null', async () => {
    const { pairing, store } = await setup();
    const reply = await pairing.lookup({ addresses: [MAC], apiVersion: '1.31', remoteAddress: PEER });
    expect(reply.config.agent_token).toBeNull();
    expect((await store.get(UUID))?.tokenHash).toBeUndefined();
  });

  it('issues exactly one token when two lookups race', async () => {
    const { pairing, tokens } = await setup();
    const replies = await Promise.all([1, 2, 3].map(() => pairing.lookup({ addresses: [MAC], apiVersion: '1.68', remoteAddress: PEER })));
    expect(replies.filter((r) => r.config.agent_token !== REDACTED_TOKEN)).toHaveLength(1);
    expect(tokens).toHaveLength(1);
  });

  it('answers "not found", unchanged, to an address off the allow-list', async () => {
    const { pairing, store, tokens } = await setup();
    const before = await store.get(UUID);
    const error = await expectCode(pairing.lookup({ addresses: [MAC], apiVersion: '1.68', remoteAddress: '198.51.100.7' }), 'INGOT_NODE_NOT_FOUND');
    const unknown = await expectCode(pairing.lookup({ addresses: ['00:00:00:00:00:01'], apiVersion: '1.68', remoteAddress: PEER }), 'INGOT_NODE_NOT_FOUND');
    expect(error.message).toBe(unknown.message);
    expect(await store.get(UUID)).toEqual(before);
    expect(tokens).toEqual([]);
  });

  it('answers "not found" when the node is not in a lookup state', async () => {
    const { pairing } = await setup({}, { uuid: UUID, lookupAllowed: false });
    await expectCode(pairing.lookup({ nodeUuid: UUID, apiVersion: '1.68', remoteAddress: PEER }), 'INGOT_NODE_NOT_FOUND');
  });

  it('refuses a lookup with neither a usable MAC nor a node UUID', async () => {
    const { pairing } = await setup();
    const error = await expectCode(pairing.lookup({ addresses: 'garbage', apiVersion: '1.68', remoteAddress: PEER }), 'INGOT_BAD_REQUEST');
    expect(error.message).toContain("'addresses' and 'node_uuid'");
  });

  it('masks secrets of instance_info in the reply', async () => {
    const { pairing } = await setup({}, { uuid: UUID, instance_info: { image_url: 'http://x/img', configdrive: 'abc', root_gb: 10, admin_password: 'p' } });
    const reply = await pairing.lookup({ nodeUuid: UUID, apiVersion: '1.68', remoteAddress: PEER });
    expect(reply.node.instance_info).toEqual({ image_url: REDACTED_TOKEN, configdrive: REDACTED_TOKEN, root_gb: 10, admin_password: REDACTED_TOKEN });
  });
});

describe('heartbeat', () => {
  it('records the agent URL, version, CA and time, and tells onHeartbeat it is the first', async () => {
    const onHeartbeat = vi.fn();
    const { pairing, store, token } = await paired({ onHeartbeat });
    const event = await pairing.heartbeat(UUID, beat(token, { agent_verify_ca: pemA }), { apiVersion: '1.68', remoteAddress: PEER });
    expect(event.first).toBe(true);
    expect(await store.get(UUID)).toMatchObject({ agentUrl: CALLBACK, agentVersion: '10.0.0', agentVerifyCa: pemA });
    const again = await pairing.heartbeat('node-1', beat(token, { agent_verify_ca: pemA }), { apiVersion: '1.68', remoteAddress: PEER });
    expect(again.first).toBe(false);
    await vi.waitFor(() => expect(onHeartbeat).toHaveBeenCalledTimes(2));
  });

  const refusals: Array<[string, (token: string) => unknown, ErrorCode, string?]> = [
    ['a missing token', () => beat('', {}), 'INGOT_HEARTBEAT_TOKEN_INVALID', 'Agent token is required'],
    ['a wrong token', () => beat('x'.repeat(43)), 'INGOT_HEARTBEAT_TOKEN_INVALID', 'Invalid or missing agent token received.'],
    ['a missing agent_version', (t) => ({ callback_url: CALLBACK, agent_token: t }), 'INGOT_HEARTBEAT_INVALID', 'did not transmit a version'],
    ['a missing callback_url', (t) => ({ agent_token: t, agent_version: '1' }), 'INGOT_CALLBACK_URL_INVALID'],
    ['a callback_url with a path', (t) => beat(t, { callback_url: 'https://192.0.2.10:9999/evil' }), 'INGOT_CALLBACK_URL_INVALID'],
    ['a callback_url with credentials', (t) => beat(t, { callback_url: 'https://a:b@192.0.2.10:9999' }), 'INGOT_CALLBACK_URL_INVALID'],
    ['agent_status, newer than our API', (t) => beat(t, { agent_status: 'start' }), 'INGOT_HEARTBEAT_INVALID', 'not recognised'],
    ['an agent_verify_ca that is not PEM', (t) => beat(t, { agent_verify_ca: 'hello' }), 'INGOT_HEARTBEAT_INVALID', 'not a PEM'],
    ['a body that is not an object', () => 'callback_url=x', 'INGOT_HEARTBEAT_INVALID'],
  ];
  it.each(refusals)('refuses %s with a clear error and changes nothing', async (_label, body, code, text) => {
    const { pairing, store, token } = await paired();
    const before = await store.get(UUID);
    const error = await expectCode(pairing.heartbeat(UUID, body(token), { apiVersion: '1.68', remoteAddress: PEER }), code);
    if (text) expect(error.message).toContain(text);
    expect(await store.get(UUID)).toEqual(before);
  });

  it('refuses a heartbeat from an address off the allow-list, changing nothing', async () => {
    const { pairing, store, token } = await paired();
    const before = await store.get(UUID);
    await expectCode(pairing.heartbeat(UUID, beat(token), { apiVersion: '1.68', remoteAddress: '::ffff:198.51.100.7' }), 'INGOT_ADDRESS_NOT_ALLOWED');
    expect(await store.get(UUID)).toEqual(before);
  });

  it('refuses a heartbeat for an unknown node', async () => {
    const { pairing, token } = await paired();
    await expectCode(pairing.heartbeat('nope', beat(token), { apiVersion: '1.68', remoteAddress: PEER }), 'INGOT_NODE_NOT_FOUND');
  });

  it('refuses fields newer than the request microversion', async () => {
    const { pairing, token } = await paired();
    const error = await expectCode(pairing.heartbeat(UUID, beat(token, { agent_verify_ca: pemA }), { apiVersion: '1.62', remoteAddress: PEER }), 'INGOT_HEARTBEAT_INVALID');
    expect(error.message).toContain('agent_verify_ca');
    await expectCode(pairing.heartbeat(UUID, beat(token), { apiVersion: '1.31', remoteAddress: PEER }), 'INGOT_HEARTBEAT_INVALID');
  });

  it('refuses a change of callback_url, checked before the token as Ironic does, changing nothing', async () => {
    const { pairing, store, token } = await paired();
    await pairing.heartbeat(UUID, beat(token), { apiVersion: '1.68', remoteAddress: PEER });
    const before = await store.get(UUID);
    const error = await expectCode(pairing.heartbeat(UUID, beat('wrong', { callback_url: 'https://192.0.2.11:9999' }), { apiVersion: '1.68', remoteAddress: PEER }), 'INGOT_CALLBACK_URL_INVALID');
    expect(error.message).toContain('Detected change in ramdisk provided "callback_url"');
    expect(await store.get(UUID)).toEqual(before);
  });

  it('refuses a different agent_verify_ca once one is stored, changing nothing', async () => {
    const { pairing, store, token } = await paired();
    await pairing.heartbeat(UUID, beat(token, { agent_verify_ca: pemA }), { apiVersion: '1.68', remoteAddress: PEER });
    const before = await store.get(UUID);
    const error = await expectCode(pairing.heartbeat(UUID, beat(token, { agent_verify_ca: pemB }), { apiVersion: '1.68', remoteAddress: PEER }), 'INGOT_HEARTBEAT_INVALID');
    expect(error.message).toContain('agent_verify_ca');
    expect(await store.get(UUID)).toEqual(before);
  });

  it('refuses an http callback when TLS is required', async () => {
    const { pairing, store, token } = await paired({ requireTls: true });
    const error = await expectCode(pairing.heartbeat(UUID, beat(token, { callback_url: 'http://192.0.2.10:9999' }), { apiVersion: '1.68', remoteAddress: PEER }), 'INGOT_CALLBACK_URL_INVALID');
    expect(error.message).toContain('TLS is required');
    expect((await store.get(UUID))?.agentUrl).toBeUndefined();
  });

  it('refuses a replayed token after revoke and a new lookup issued a fresh one', async () => {
    const { pairing, store, token, tokens } = await paired();
    await pairing.heartbeat(UUID, beat(token, { agent_verify_ca: pemA }), { apiVersion: '1.68', remoteAddress: PEER });
    await pairing.revokeToken(UUID);
    expect(await store.get(UUID)).not.toHaveProperty('agentUrl');
    expect(await store.get(UUID)).not.toHaveProperty('agentVerifyCa');
    await expectCode(pairing.heartbeat(UUID, beat(token), { apiVersion: '1.68', remoteAddress: PEER }), 'INGOT_HEARTBEAT_TOKEN_INVALID');
    const reply = await pairing.lookup({ addresses: [MAC], apiVersion: '1.68', remoteAddress: PEER });
    const fresh = String(reply.config.agent_token);
    expect(fresh).not.toBe(token);
    expect(tokens).toEqual([token, fresh]);
    const before = await store.get(UUID);
    await expectCode(pairing.heartbeat(UUID, beat(token), { apiVersion: '1.68', remoteAddress: PEER }), 'INGOT_HEARTBEAT_TOKEN_INVALID');
    expect(await store.get(UUID)).toEqual(before);
    // A rebooted agent may present a new certificate: the old one was wiped.
    await pairing.heartbeat(UUID, beat(fresh, { agent_verify_ca: pemB }), { apiVersion: '1.68', remoteAddress: PEER });
  });
});

describe('issueToken and revokeToken', () => {
  it('returns a pregenerated token once, which heartbeats accept and lookup answers with "******"', async () => {
    const { pairing, store } = await setup();
    const token = await pairing.issueToken(UUID, { pregenerated: true });
    const reply = await pairing.lookup({ addresses: [MAC], apiVersion: '1.68', remoteAddress: PEER });
    expect(reply.config.agent_token).toBe(REDACTED_TOKEN);
    await pairing.heartbeat(UUID, beat(token), { apiVersion: '1.68', remoteAddress: PEER });
    await pairing.revokeToken(UUID, { keepPregenerated: true });
    expect((await store.get(UUID))?.tokenHash).toBeDefined();
    await pairing.revokeToken(UUID);
    expect((await store.get(UUID))?.tokenHash).toBeUndefined();
  });

  it('refuses an unknown node', async () => {
    const { pairing } = await setup();
    await expectCode(pairing.issueToken('nope'), 'INGOT_NODE_NOT_FOUND');
    await expectCode(pairing.revokeToken('nope'), 'INGOT_NODE_NOT_FOUND');
  });
});
