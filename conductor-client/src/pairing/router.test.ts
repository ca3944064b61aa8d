import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Writable } from 'node:stream';
import express from 'express';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { API_VERSION_HEADER } from '@ingot/protocol';
import { createMemoryNodeStore, createNodeRecord } from './node-store.ts';
import { createPairing } from './pairing.ts';
import { createPairingRouter } from './router.ts';

const UUID = '5f1b1c36-6a4a-4f7e-9c1d-2d8f7b0c0a11';
const MAC = '52:54:00:aa:bb:cc';
let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function start(allowed: string[] = ['127.0.0.1'], trustForwardedFor = false) {
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } }));
  const store = createMemoryNodeStore([createNodeRecord({ uuid: UUID, macs: [MAC], lookupAllowed: true, allowedAddresses: allowed })]);
  const pairing = createPairing({ store, log });
  const app = express();
  app.use(createPairingRouter(pairing, { log, bodyLimit: 4096, trustForwardedFor }));
  server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server!.once('listening', () => resolve()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, store, lines };
}

const v = (version = '1.68') => ({ [API_VERSION_HEADER]: version });

async function ironicError(response: Response): Promise<Record<string, unknown>> {
  const body = await response.json() as { error_message: string };
  expect(typeof body.error_message).toBe('string');
  return JSON.parse(body.error_message) as Record<string, unknown>;
}

describe('pairing router over HTTP', () => {
  it('serves an Ironic-like version document at the root with version 1.68', async () => {
    const { base } = await start();
    const response = await fetch(`${base}/`);
    const body = await response.json() as { default_version: { version: string; min_version: string } };
    expect(body.default_version).toMatchObject({ version: '1.68', min_version: '1.1' });
    expect(response.headers.get('x-openstack-ironic-api-maximum-version')).toBe('1.68');
  });

  it('pairs an agent: lookup issues a token, heartbeat answers 202 with an empty body, and no token reaches the log', async () => {
    const { base, store, lines } = await start();
    const lookup = await fetch(`${base}/v1/lookup?addresses=${MAC}`, { headers: v() });
    expect(lookup.status).toBe(200);
    const reply = await lookup.json() as { node: { uuid: string }; config: { agent_token: string } };
    expect(reply.node.uuid).toBe(UUID);
    const token = reply.config.agent_token;
    expect(token).toHaveLength(43);
    const beat = await fetch(`${base}/v1/heartbeat/${UUID}`, {
      method: 'POST', headers: { ...v(), 'Content-Type': 'application/json' },
      body: JSON.stringify({ callback_url: 'http://127.0.0.1:9999', agent_token: token, agent_version: '10.0.0' }),
    });
    expect(beat.status).toBe(202);
    expect(await beat.text()).toBe('');
    expect((await store.get(UUID))?.agentUrl).toBe('http://127.0.0.1:9999');
    const bad = await fetch(`${base}/v1/heartbeat/${UUID}?agent_token=${token}x`, { method: 'POST', headers: v(), body: JSON.stringify({ callback_url: 'http://127.0.0.1:9999', agent_version: '1' }) });
    expect(bad.status).toBe(400);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(token);
  });

  it('answers 404 without the version header or below 1.22, like Ironic', async () => {
    const { base } = await start();
    expect((await fetch(`${base}/v1/lookup?addresses=${MAC}`)).status).toBe(404);
    expect((await fetch(`${base}/v1/lookup?addresses=${MAC}`, { headers: v('1.21') })).status).toBe(404);
    expect((await fetch(`${base}/v1/lookup?addresses=${MAC}`, { headers: v('1.99') })).status).toBe(406);
  });

  it('answers a disallowed address exactly like an unknown node', async () => {
    const { base } = await start(['10.0.0.0/8']);
    const refused = await fetch(`${base}/v1/lookup?addresses=${MAC}`, { headers: v() });
    const unknown = await fetch(`${base}/v1/lookup?addresses=00:00:00:00:00:01`, { headers: v() });
    expect(refused.status).toBe(404);
    expect(await refused.text()).toBe(await unknown.text());
  });

  it('renders errors in Ironic shape with the stable code inside', async () => {
    const { base } = await start();
    const response = await fetch(`${base}/v1/heartbeat/${UUID}`, { method: 'POST', headers: v(), body: JSON.stringify({ callback_url: 'http://127.0.0.1:9999', agent_version: '1' }) });
    expect(response.status).toBe(400);
    expect(await ironicError(response)).toEqual({
      faultcode: 'Client', faultstring: 'Invalid or missing agent token received.: Agent token is required for heartbeat processing.',
      debuginfo: null, error_code: 'INGOT_HEARTBEAT_TOKEN_INVALID',
    });
  });

  it('refuses a heartbeat from an address off the allow-list with 403', async () => {
    const { base } = await start(['10.0.0.0/8']);
    const response = await fetch(`${base}/v1/heartbeat/${UUID}`, { method: 'POST', headers: v(), body: '{}' });
    expect(response.status).toBe(403);
    expect((await ironicError(response)).error_code).toBe('INGOT_ADDRESS_NOT_ALLOWED');
  });

  it('refuses malformed JSON with 400 and an oversized body with 413', async () => {
    const { base } = await start();
    const malformed = await fetch(`${base}/v1/heartbeat/${UUID}`, { method: 'POST', headers: v(), body: '{nope' });
    expect(malformed.status).toBe(400);
    expect((await ironicError(malformed)).error_code).toBe('INGOT_BAD_REQUEST');
    const large = await fetch(`${base}/v1/heartbeat/${UUID}`, { method: 'POST', headers: v(), body: JSON.stringify({ pad: 'x'.repeat(10_000) }) });
    expect(large.status).toBe(413);
    expect((await ironicError(large)).error_code).toBe('INGOT_BODY_TOO_LARGE');
  });

  it('ignores X-Forwarded-For unless told to trust it', async () => {
    const { base } = await start(['127.0.0.1']);
    const response = await fetch(`${base}/v1/lookup?addresses=${MAC}`, { headers: { ...v(), 'X-Forwarded-For': '10.9.9.9' } });
    expect(response.status).toBe(200);
  });

  it('takes the last X-Forwarded-For entry as the peer when told to trust the proxy', async () => {
    const { base } = await start(['10.9.9.9'], true);
    const headers = { ...v(), 'X-Forwarded-For': '192.0.2.1, 10.9.9.9' };
    expect((await fetch(`${base}/v1/lookup?addresses=${MAC}`, { headers })).status).toBe(200);
    expect((await fetch(`${base}/v1/lookup?addresses=${MAC}`, { headers: { ...v(), 'X-Forwarded-For': '10.9.9.9, 192.0.2.1' } })).status).toBe(404);
  });
});

describe('pairing router on requests it has no route for (fuzz findings)', () => {
  it('answers an unmatched method or path under /v1/lookup and /v1/heartbeat in Ironic\'s error shape, not express\'s HTML page', async () => {
    const { base } = await start([]);
    for (const [method, path, status] of [['POST', '/v1/lookup', 405], ['DELETE', `/v1/heartbeat/${UUID}`, 405], ['GET', '/v1/heartbeat/', 404], ['GET', '/v1/lookup/x', 404], ['PUT', '/', 405]] as const) {
      const response = await fetch(`${base}${path}`, { method, headers: v() });
      expect(response.status, `${method} ${path}`).toBe(status);
      expect(await ironicError(response)).toMatchObject({ faultcode: 'Client' });
      if (status === 405) expect(response.headers.get('allow')).toMatch(/GET|POST/);
    }
    expect((await fetch(`${base}/elsewhere`)).headers.get('content-type')).toMatch(/html/);
  });

  it('answers 415 for an unsupported charset and 400 for a node that does not percent-decode, in Ironic\'s shape, not 500', async () => {
    const { base } = await start([]);
    const charset = await fetch(`${base}/v1/heartbeat/${UUID}`, { method: 'POST', headers: { ...v(), 'Content-Type': 'application/json; charset=latin1' }, body: '{}' });
    expect(charset.status).toBe(415);
    expect(await ironicError(charset)).toMatchObject({ faultcode: 'Client', error_code: 'INGOT_BAD_REQUEST' });
    const undecodable = await fetch(`${base}/v1/heartbeat/%zz`, { method: 'POST', headers: { ...v(), 'Content-Type': 'application/json' }, body: '{}' });
    expect(undecodable.status).toBe(400);
    expect(await ironicError(undecodable)).toMatchObject({ faultcode: 'Client' });
  });
});

