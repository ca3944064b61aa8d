import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import express from 'express';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { API_VERSION_HEADER } from '@ingot/protocol';
import { fuzz } from '../../../test/support/fuzz.ts';
import { jsonOf, mutated, oddString, oddValue } from '../../../test/support/fuzz-inputs.ts';
import { createRecordingLog, type RecordingLog } from '../../../test/support/recording-log.ts';
import { createMemoryNodeStore, createNodeRecord } from './node-store.ts';
import { createPairing, type Pairing } from './pairing.ts';
import { createPairingRouter } from './router.ts';

const UUID = '5f1b1c36-6a4a-4f7e-9c1d-2d8f7b0c0a11';
const MAC = '52:54:00:aa:bb:cc';
let server: http.Server;
let port: number;
let recording: RecordingLog;
let pairing: Pairing;
/** The node's token, issued before the run: every lookup answers "******", so it must appear in no reply and no log line. */
let token: string;

beforeAll(async () => {
  recording = createRecordingLog();
  const store = createMemoryNodeStore([
    createNodeRecord({ uuid: UUID, name: 'node-0', macs: [MAC], lookupAllowed: true }),
    createNodeRecord({ uuid: 'fenced', macs: ['52:54:00:00:00:01'], lookupAllowed: true, allowedAddresses: ['192.0.2.0/24'] }),
  ]);
  pairing = createPairing({ store, log: recording.log, requireTls: false });
  token = await pairing.issueToken(UUID);
  const app = express();
  app.disable('x-powered-by');
  app.use(createPairingRouter(pairing, { log: recording.log, bodyLimit: 4096 }));
  server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

interface Attempt { method: string; path: string; headers: Record<string, string>; body: Buffer | undefined }

function send(attempt: Attempt): Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: attempt.method, path: attempt.path, headers: attempt.headers, timeout: 10_000, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within 10 s to ${attempt.method} ${attempt.path}`)));
    req.on('error', reject);
    req.end(attempt.body);
  });
}

/** Percent-encodes what a request line cannot carry raw, keeping the odd escapes (%zz) that were generated on purpose. */
const onTheLine = (text: string) => text.replace(/[^\x21-\x7e]/gu, (c) => (/\p{Cs}/u.test(c) ? '%ED%A0%80' : encodeURIComponent(c)));
const pathPiece = fc.oneof(oddString.filter((s) => s.length < 200), fc.constantFrom(UUID, 'node-0', 'fenced', '%zz', '%', '%00', '..', '%2F', '__proto__', 'constructor', '', 'a/b'));
const path = fc.oneof(
  fc.constantFrom('/', '/v1/lookup', '/v1/lookup/', '/v1/heartbeat', '/v1/heartbeat/', '/v1', '/v1/', '/v1/lookup/x'),
  pathPiece.map((piece) => `/v1/heartbeat/${piece}`),
  pathPiece.map((piece) => `/v1/lookup/${piece}`),
  pathPiece.map((piece) => `/${piece}`),
);
const queryValue = fc.oneof(pathPiece, fc.constantFrom(MAC, MAC.toUpperCase(), '5254.00aa.bbcc', `${MAC},zz`, 'http://127.0.0.1:9999', 'https://[::1]:9999'), fc.constant('<token>'));
const query = fc.array(fc.tuple(fc.constantFrom('addresses', 'node_uuid', 'callback_url', 'agent_token', 'agent_version', 'agent_verify_ca', 'agent_status', 'addresses[]', 'addresses[0]', '__proto__', 'a[b][c]', 'x'), queryValue), { maxLength: 4 })
  .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}` : ''));
const heartbeat = { callback_url: 'http://127.0.0.1:9999', agent_token: '<token>', agent_version: '10.0.0' };
const body = fc.oneof(
  fc.constant(undefined),
  mutated(heartbeat, ['agent_verify_ca', 'agent_status'], fc.oneof(oddValue, queryValue)).map((b) => Buffer.from(jsonOf(b))),
  oddValue.map((v) => Buffer.from(jsonOf(v))),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
  fc.integer({ min: 4_000, max: 20_000 }).map((n) => Buffer.from(JSON.stringify({ callback_url: 'x'.repeat(n) }))),
);
const attempt = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND'),
  path, query, body,
  version: fc.constantFrom(undefined, '1.68', '1.62', 'latest', 'LATEST', '1.22', '1.21', '1.1', '1.0', '2.0', '1.999999999999999999999', 'x', ' ', '1.68, 1.68'),
  type: fc.constantFrom(undefined, 'application/json', 'text/plain', 'application/json; charset=latin1', 'application/json; charset=utf-16', 'multipart/form-data; boundary=x', '*/*'),
  encoding: fc.constantFrom(undefined, undefined, 'gzip', 'identity', 'br', 'x-unknown'),
  forwarded: fc.option(fc.constantFrom('192.0.2.5', 'garbage', '::1')),
}).map((r): Attempt => {
  let payload = r.body?.toString('latin1').replaceAll('<token>', token);
  let raw = payload === undefined ? undefined : Buffer.from(payload, 'latin1');
  if (raw && r.encoding === 'gzip') raw = gzipSync(raw);
  payload = undefined;
  const headers: Record<string, string> = {};
  if (r.version !== undefined) headers[API_VERSION_HEADER] = r.version;
  if (r.type) headers['Content-Type'] = r.type;
  if (r.encoding) headers['Content-Encoding'] = r.encoding;
  if (r.forwarded) headers['X-Forwarded-For'] = r.forwarded;
  // Framed, so the body is this request's (node would send a GET's body unframed, a second request to the parser).
  if (raw) headers['Content-Length'] = String(raw.length);
  return { method: r.method, path: onTheLine(`${r.path}${r.query.replaceAll('<token>', token)}`), headers, body: raw };
});

/** Paths the pairing router serves: everything under them answers in Ironic's shape. */
const ownPath = (p: string) => /^\/(\?|$)|^\/v1\/(lookup|heartbeat)(\/|\?|$)/.test(p);

it('answers every request to the lookup and heartbeat endpoints without a 5xx, every 4xx in Ironic\'s error shape, and never shows the token', async () => {
  await fuzz('conductor pairing router over HTTP', 500, fc.asyncProperty(attempt, async (request) => {
    const before = recording.records.length;
    const response = await send(request);
    expect(response.status, `${request.method} ${request.path}`).toBeLessThan(500);
    if (response.status >= 400 && ownPath(request.path) && request.method !== 'HEAD') {
      const outer = JSON.parse(response.text) as { error_message: unknown };
      expect(typeof outer.error_message).toBe('string');
      const fault = JSON.parse(outer.error_message as string) as Record<string, unknown>;
      expect(fault).toMatchObject({ faultcode: 'Client', faultstring: expect.any(String) });
    }
    expect(response.text).not.toContain(token);
    expect(JSON.stringify(recording.records.slice(before))).not.toContain(token);
  }));
  // Still answering: the agent's own lookup and heartbeat go through after all that.
  const lookup = await send({ method: 'GET', path: `/v1/lookup?addresses=${MAC}`, headers: { [API_VERSION_HEADER]: '1.68' }, body: undefined });
  expect(lookup.status).toBe(200);
  await pairing.revokeToken(UUID);
  token = await pairing.issueToken(UUID);
  const beat = await send({ method: 'POST', path: `/v1/heartbeat/${UUID}`, headers: { [API_VERSION_HEADER]: '1.68', 'Content-Type': 'application/json' }, body: Buffer.from(JSON.stringify({ ...heartbeat, agent_token: token })) });
  expect(beat.status).toBe(202);
});
