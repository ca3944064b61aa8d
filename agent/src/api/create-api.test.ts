import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createCommandRunner } from '../commands/command-runner.ts';
import { defineExtension } from '../commands/command.ts';
import { createLogger } from '../log.ts';
import { createApi } from './create-api.ts';

const TOKEN = 'a'.repeat(43);
const servers: http.Server[] = [];
afterEach(() => { for (const server of servers.splice(0)) server.close(); });

async function startApi(options: { requireTokenOnGet?: boolean } = {}) {
  let logged = '';
  const log = createLogger({ destination: new Writable({ write(chunk, _enc, cb) { logged += String(chunk); cb(); } }) });
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const runner = createCommandRunner({
    log: pino({ level: 'silent' }),
    extensions: [defineExtension('clean', [
      { name: 'get_clean_steps', mode: 'sync', run: async () => ({ clean_steps: {}, hardware_manager_version: {} }) },
      { name: 'hold', mode: 'async', run: async () => { await gate; return null; } },
    ])],
  });
  const app = createApi({ runner, log, tokens: { current: () => TOKEN }, version: '0.1.0', startedAt: 1_700_000_000_000, bodyLimitBytes: 64 * 1024, ...options });
  const server = http.createServer(app).listen(0, '127.0.0.1');
  servers.push(server);
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const call = async (method: string, path: string, body?: string) => {
    const response = await fetch(`${base}${path}`, { method, body, redirect: 'manual', headers: body ? { 'Content-Type': 'application/json' } : {} });
    const text = await response.text();
    return { status: response.status, location: response.headers.get('location'), json: text ? JSON.parse(text) : null };
  };
  /** One raw request line, as no HTTP client would send it. */
  const raw = (method: string, target: string) => new Promise<string>((resolve, reject) => {
    const socket = net.connect((server.address() as AddressInfo).port, '127.0.0.1', () => socket.write(`${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let answer = '';
    socket.on('data', (chunk) => { answer += String(chunk); }).on('end', () => resolve(answer)).on('error', reject);
  });
  return { call, raw, runner, release, logs: () => logged };
}

const command = (name: string, params: object = {}) => JSON.stringify({ name, params });

describe('the agent API', () => {
  it('answers backslash targets, some of which express reads no path from, with a JSON 400 or 404 and one request log line each (found by fuzzing: an HTML page)', async () => {
    const { raw, logs } = await startApi();
    for (const target of ['/\\#@x', '/\\\\', `/\\#@${TOKEN}`]) {
      const answer = await raw('GET', target);
      expect(answer, target).toMatch(/^HTTP\/1\.1 40[04] /);
      expect(answer, target).toContain('application/json');
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)), target).toMatchObject({ faultcode: 'Client', error_code: expect.stringMatching(/^INGOT_(URL_INVALID|NOT_FOUND)$/) });
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(logs().split('\n').filter((line) => line.includes('"msg":"request"') && /"status":40[04]/.test(line))).toHaveLength(3);
    expect(logs()).not.toContain(TOKEN);
  });

  it('serves the root, v1 and status documents with and without /v1', async () => {
    const { call } = await startApi();
    expect((await call('GET', '/')).json).toMatchObject({ name: 'OpenStack Ironic Python Agent API', default_version: { id: 'v1' } });
    expect((await call('GET', '/v1/')).json.media_types[0].type).toBe('application/vnd.openstack.ironic-python-agent.v1+json');
    expect((await call('GET', '/v1/status')).json).toEqual({ started_at: 1_700_000_000, version: '0.1.0' });
    expect((await call('GET', '/status')).json).toEqual({ started_at: 1_700_000_000, version: '0.1.0' });
  });

  it('redirects with 308 when the trailing slash is missing, keeping the query', async () => {
    const { call } = await startApi();
    expect(await call('GET', '/v1')).toMatchObject({ status: 308, location: '/v1/' });
    expect(await call('POST', `/v1/commands?wait=true&agent_token=${TOKEN}`, command('clean.get_clean_steps'))).toMatchObject({ status: 308, location: `/v1/commands/?wait=true&agent_token=${TOKEN}` });
  });

  it('runs a command posted with the token, on /v1/commands/ and /commands/', async () => {
    const { call } = await startApi();
    const first = await call('POST', `/v1/commands/?wait=true&agent_token=${TOKEN}`, command('clean.get_clean_steps'));
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ command_name: 'get_clean_steps', command_status: 'SUCCEEDED', command_error: null });
    expect((await call('POST', `/commands/?agent_token=${TOKEN}`, command('clean.get_clean_steps'))).status).toBe(200);
    expect((await call('GET', `/v1/commands/${first.json.id}`)).json.id).toBe(first.json.id);
  });

  it('refuses a command whose token is missing or wrong, with 401 and no side effect', async () => {
    const { call, runner } = await startApi();
    for (const query of ['', '?agent_token=wrong', `?agent_token=${TOKEN}x`]) {
      const response = await call('POST', `/v1/commands/${query}`, command('clean.get_clean_steps'));
      expect(response).toMatchObject({ status: 401, json: { faultcode: 'Client', faultstring: 'Token invalid.', error_code: 'INGOT_TOKEN_INVALID' } });
    }
    expect(runner.list()).toEqual([]);
  });

  it('lets GETs through without a token until a token-bearing GET was seen, as Ironic 21.4 polls', async () => {
    const { call } = await startApi();
    expect((await call('GET', '/v1/commands/')).status).toBe(200);
    expect((await call('GET', '/v1/commands/?agent_token=wrong')).status).toBe(401);
    expect((await call('GET', '/v1/commands/')).status).toBe(200);
    expect((await call('GET', `/v1/commands/?agent_token=${TOKEN}`)).status).toBe(200);
    expect((await call('GET', '/v1/commands/')).status).toBe(401);
  });

  it('demands the token on every GET when configured to', async () => {
    const { call } = await startApi({ requireTokenOnGet: true });
    expect((await call('GET', '/v1/commands/')).status).toBe(401);
    expect((await call('GET', `/v1/commands/?agent_token=${TOKEN}`)).json).toEqual({ commands: [] });
  });

  it('answers malformed JSON, a body without name or params, and an oversized body with clear 4xx errors', async () => {
    const { call, runner } = await startApi();
    const malformed = await call('POST', `/v1/commands/?agent_token=${TOKEN}`, '{"name": ');
    expect(malformed.status).toBe(400);
    expect(malformed.json.faultstring).toMatch(/not valid JSON/);
    const missing = await call('POST', `/v1/commands/?agent_token=${TOKEN}`, JSON.stringify({ name: 'clean.get_clean_steps' }));
    expect(missing.json.faultstring).toBe('Bad Request: Missing or invalid name or params');
    const huge = await call('POST', `/v1/commands/?agent_token=${TOKEN}`, command('clean.get_clean_steps', { blob: 'x'.repeat(100_000) }));
    expect(huge).toMatchObject({ status: 413, json: { error_code: 'INGOT_BODY_TOO_LARGE' } });
    expect(runner.list()).toEqual([]);
  });

  it('answers an unknown command 400 and an unknown extension 404, in the fault shape Ironic parses', async () => {
    const { call } = await startApi();
    expect(await call('POST', `/v1/commands/?agent_token=${TOKEN}`, command('clean.nope'))).toMatchObject({ status: 400, json: { faultcode: 'Client', faultstring: 'Invalid command: Unknown command: clean.nope' } });
    expect(await call('POST', `/v1/commands/?agent_token=${TOKEN}`, command('bad_extension.fake_command'))).toMatchObject({ status: 404 });
    expect((await call('GET', '/v1/commands/nope')).status).toBe(404);
    expect((await call('GET', '/v2/')).status).toBe(404);
    expect((await call('DELETE', '/v1/commands/')).status).toBe(405);
  });

  it('answers 409 "agent is busy" while an async command runs', async () => {
    const { call, release } = await startApi();
    const started = await call('POST', `/v1/commands/?wait=false&agent_token=${TOKEN}`, command('clean.hold'));
    expect(started.json.command_status).toBe('RUNNING');
    const busy = await call('POST', `/v1/commands/?wait=true&agent_token=${TOKEN}`, command('clean.get_clean_steps'));
    expect(busy).toMatchObject({ status: 409, json: { faultstring: 'Agent is busy: executing command hold', error_code: 'INGOT_AGENT_BUSY' } });
    release();
  });

  it('never writes the token to its log, URLs included', async () => {
    const { call, logs } = await startApi();
    await call('POST', `/v1/commands/?wait=true&agent_token=${TOKEN}`, command('clean.get_clean_steps'));
    await call('GET', `/v1/commands/?agent_token=${TOKEN}`);
    expect(logs()).toContain('agent_token=***');
    expect(logs()).not.toContain(TOKEN);
  });
});
