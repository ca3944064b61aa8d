import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest, startTestApi, type TestApiServer } from './api-test-server.ts';

const TOKEN = 'Zq9x-SECRET_tokenABCDEFGHIJKLMNOPQRSTUVWXYZ';
const ID = '0b6f7a9e-8c2d-4f1a-9b3e-2d4c6e8f0a1b';

/** Every kind of malformed percent-escape: cut short, not hex, not UTF-8, an overlong or surrogate sequence. */
const escapes = ['%', '%4', '%zz', '%G1', '%%', '%%41', '%E0%A4', '%C0', '%C0%AF', '%FF', '%ED%A0%80', '%F4%90%80%80', '%E0%A4%'];
/** Where an escape can sit: the command id (start, middle, end), the query, the prefix, the collection. */
const templates = [
  (e: string) => `/v1/commands/${e}${ID}`,
  (e: string) => `/v1/commands/${ID.slice(0, 8)}${e}${ID.slice(8)}`,
  (e: string) => `/v1/commands/${ID}${e}`,
  (e: string) => `/v1/commands/${e}`,
  (e: string) => `/commands/${e}?wait=true`,
  (e: string) => `/v1/commands/?agent_token=${TOKEN}${e}`,
  (e: string) => `/v1/commands/?${e}=1&agent_token=${TOKEN}`,
  (e: string) => `/v1/commands/${ID}?wait=${e}`,
  (e: string) => `/${e}/commands/`,
  (e: string) => `/v1${e}/commands/`,
  (e: string) => `/v1/commands${e}`,
  (e: string) => `/v1/status${e}`,
  (e: string) => `${e}/v1/`,
];

describe('a URL with a malformed percent-escape', () => {
  let api: TestApiServer;
  beforeAll(async () => { api = await startTestApi({ token: TOKEN }); });
  afterAll(() => api.close());

  it('is never answered with a 5xx wherever the escape sits; every 4xx is in IPA\'s fault shape', async () => {
    const seen = new Map<number, number>();
    for (const escape of escapes) {
      for (const template of templates) {
        for (const method of ['GET', 'POST', 'PUT']) {
          const target = template(escape);
          const body = method === 'POST' ? JSON.stringify({ name: 'clean.get_clean_steps', params: {} }) : '';
          const response = await rawRequest(api.port, `${method} ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
          const what = `${method} ${target} -> ${response.status} ${response.body}`;
          expect(response.status, what).toBeGreaterThanOrEqual(200);
          expect(response.status, what).toBeLessThan(500);
          if (response.status >= 400) expect(JSON.parse(response.body), what).toMatchObject({ faultcode: 'Client', faultstring: expect.any(String), error_code: expect.stringMatching(/^INGOT_/) });
          seen.set(response.status, (seen.get(response.status) ?? 0) + 1);
        }
      }
    }
    // A malformed escape in a query is kept as text (as werkzeug does), so a POST with the valid token may run.
    expect(api.runner.list().every((command) => command.command_name === 'get_clean_steps')).toBe(true);
    expect(seen.get(400)).toBeGreaterThan(0);
  });

  it('in a command id is INGOT_URL_INVALID (400), naming what is wrong and what to do', async () => {
    for (const escape of escapes) {
      const response = await rawRequest(api.port, `GET /v1/commands/${ID}${escape} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(response.status, escape).toBe(400);
      expect(JSON.parse(response.body)).toEqual({
        faultcode: 'Client', error_code: 'INGOT_URL_INVALID',
        faultstring: 'Malformed request URL: a percent-escape in the URL is not "%" with two hex digits of valid UTF-8; encode the command id and query values with encodeURIComponent',
      });
    }
  });
});

/** Found by the HTTP API fuzz (`GET //?@#`): a target Express's router finds no path in went past every route to Express's HTML page. */
describe('a request target the router finds no path in', () => {
  let api: TestApiServer;
  beforeAll(async () => { api = await startTestApi({ token: TOKEN, scrub: false }); });
  afterAll(() => api.close());

  it('is answered in the fault shape (never Express\'s HTML page), logged without the token, and runs nothing', async () => {
    // The class: `//` (read as an authority), then any mix of the characters that end or split one.
    const pieces = ['', '?', '@', '#', ':', '/', 'x', `agent_token=${TOKEN}`];
    const targets = new Set<string>();
    for (const a of pieces) for (const b of pieces) for (const c of pieces) targets.add(`//${a}${b}${c}`);
    let noPath = 0;
    for (const target of targets) {
      for (const method of ['GET', 'POST']) {
        const body = method === 'POST' ? JSON.stringify({ name: 'clean.get_clean_steps', params: {} }) : '';
        const response = await rawRequest(api.port, `${method} ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
        const what = `${method} ${target} -> ${response.status} ${response.body}`;
        expect(response.status, what).toBeGreaterThanOrEqual(400);
        expect(response.status, what).toBeLessThan(500);
        expect(JSON.parse(response.body), what).toMatchObject({ faultcode: 'Client', faultstring: expect.any(String), error_code: expect.stringMatching(/^INGOT_/) });
        if (JSON.parse(response.body).error_code === 'INGOT_URL_INVALID') noPath += 1;
      }
    }
    expect(noPath).toBeGreaterThan(0);
    expect(api.runner.list()).toEqual([]);
    const lines = api.lines();
    expect(lines.filter((line) => line.includes('"msg":"request"'))).toHaveLength(targets.size * 2);
    for (const line of lines) expect(line).not.toContain(TOKEN);
  });
});
