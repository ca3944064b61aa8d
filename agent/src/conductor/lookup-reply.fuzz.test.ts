import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fuzz } from '../../../test/support/fuzz.ts';
import { jsonOf, mutated, oddValue, parsesOrRefuses, secret, withOwn } from '../../../test/support/fuzz-inputs.ts';
import { createRecordingLog } from '../../../test/support/recording-log.ts';
import { createConductorApi } from './conductor-api.ts';
import { parseLookupReply } from './lookup-reply.ts';

/** Ironic 21.4's reply (ironic-conductor.md 2), with the token issued by this lookup. */
const reply = (token: string) => ({
  node: { uuid: '1be26c0b-03f2-4d2e-ae87-c02d7f33c123', properties: {}, instance_info: {}, driver_internal_info: { agent_secret_token: '******' }, links: [] },
  config: { heartbeat_timeout: 300, agent_token: token, agent_token_required: true, agent_md5_checksum_enable: false, permitted_image_formats: ['raw', 'qcow2'] },
});
const near = fc.oneof(oddValue, fc.constantFrom(-300, 0, 0.001, 1e308, '300', ' 90 ', '-1', 'NaN', '', '******', null));
/** A reply mutated at the top, in node or in config, with the token left in place. */
const replyBody = (token: string) => fc.oneof(
  oddValue,
  mutated(reply(token), ['heartbeat_timeout'], near),
  mutated(reply(token).node, ['uuid'], near).map((node) => withOwn(reply(token), [['node', node]])),
  mutated(reply(token).config, ['heartbeat_timeout'], near).map((config) => withOwn(reply(token), [['config', config]])),
);

it('reads any lookup body as a node with a heartbeat timeout of at least 1 s, or INGOT_LOOKUP_FAILED naming the URL without the token', async () => {
  await fuzz('parseLookupReply on any body', 250, fc.property(secret.chain((token) => fc.tuple(fc.constant(token), replyBody(token))), ([token, body]) => {
    const outcome = parsesOrRefuses(() => parseLookupReply(body, 'http://conductor/v1/lookup'), ['INGOT_LOOKUP_FAILED'], 'http://conductor/v1/lookup answered');
    if ('error' in outcome) {
      expect(outcome.error.message).not.toContain(token);
      return;
    }
    const { node, config } = outcome.value.reply;
    expect(typeof node.uuid === 'string' && node.uuid.trim() !== '').toBe(true);
    for (const field of ['properties', 'instance_info', 'driver_info', 'driver_internal_info']) {
      const value = node[field];
      expect(value === undefined || value === null || (typeof value === 'object' && !Array.isArray(value))).toBe(true);
    }
    expect(Number.isFinite(config.heartbeat_timeout) && config.heartbeat_timeout >= 1).toBe(true);
  }));
});

/** What the fake conductor answers next: a status, a content type and a body of any shape. */
let next: { status: number; type: string; text: string } = { status: 200, type: 'application/json', text: '{}' };
let server: http.Server;
let url: string;
beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    if (req.url === '/') return void res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"default_version":{"version":"1.68"}}');
    res.writeHead(next.status, { 'Content-Type': next.type }).end(next.text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

it('over HTTP, answers any status and body from the conductor with a node or INGOT_LOOKUP_FAILED, and no log line holds the token', async () => {
  await fuzz('conductor lookup reply over HTTP', 100, fc.asyncProperty(
    secret.chain((token) => fc.tuple(fc.constant(token), fc.oneof(replyBody(token).map(jsonOf), fc.string({ maxLength: 40 }).map((s) => `${s}${token}`)))),
    fc.constantFrom(200, 200, 200, 202, 204, 400, 404, 409, 500, 503), fc.constantFrom('application/json', 'text/html', 'text/plain'),
    async ([token, text], status, type) => {
      next = { status, type, text };
      const recording = createRecordingLog();
      const api = createConductorApi({ urls: [url], insecure: false, timeoutMs: 10_000, log: recording.log });
      try {
        const found = await api.lookup({ macs: ['52:54:00:12:34:56'] });
        expect(typeof found.node.uuid).toBe('string');
        expect(found.config.heartbeat_timeout).toBeGreaterThanOrEqual(1);
      } catch (error) {
        expect(error).toMatchObject({ name: 'IngotError', code: 'INGOT_LOOKUP_FAILED' });
      }
      expect(JSON.stringify(recording.records)).not.toContain(token);
    },
  ));
});
