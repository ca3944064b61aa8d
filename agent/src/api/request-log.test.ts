import { afterEach, describe, expect, it } from 'vitest';
import { rawRequest, startTestApi, type TestApiServer } from './api-test-server.ts';
import { describeTarget } from './request-log.ts';

/** Shaped like Ironic's tokens: 43 URL-safe characters. */
const TOKEN = 'Zq9x-SECRET_tokenABCDEFGHIJKLMNOPQRSTUVWXYZ';
const encodeAll = (text: string, lower = false) => [...text].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`).join('')[lower ? 'toLowerCase' : 'toString']();
const encodeHalf = (text: string) => [...text].map((c, i) => (i % 2 ? `%${c.charCodeAt(0).toString(16)}` : c)).join('');

/** Every shape of request target that can carry the token, as a client may send it on the wire. */
const targets = [
  `/v1/commands/?agent_token=${TOKEN}`,
  `/v1/commands/?agent_token[]=${TOKEN}`,
  `/v1/commands/?agent_token[x]=${TOKEN}`,
  `/v1/commands/?agent_token[${TOKEN}]=1`,
  `/v1/commands/?Agent_Token=${TOKEN}`,
  `/v1/commands/?agent%5Ftoken=${TOKEN}`,
  `/v1/commands/?agent_token=${TOKEN}&agent_token=${TOKEN}`,
  `/v1/commands/?wait=true;agent_token=${TOKEN}`,
  `/v1/commands/?wait=${TOKEN}`,
  `/v1/commands/?${TOKEN}=`,
  `/v1/commands/?${TOKEN}`,
  `/v1/commands/#agent_token=${TOKEN}`,
  `/v1/commands/?wait=true#${TOKEN}`,
  `/v1/commands/${TOKEN}`,
  `/commands/${TOKEN}?wait=true`,
  `/v1/commands/${TOKEN}/more`,
  `/v1/commands/;agent_token=${TOKEN}`,
  `/v1/commands/\\${TOKEN}`,
  `/v1/commands/${encodeAll(TOKEN)}`,
  `/v1/commands/${encodeAll(TOKEN, true)}`,
  `/v1/commands/${encodeHalf(TOKEN)}`,
  `/v1/commands/${encodeAll(TOKEN).replaceAll('%', '%25')}`,
  `/v1/commands/%zz${TOKEN}`,
  `/v1/commands/${TOKEN}%E0%A4`,
  `/v1/commands/?agent_token=${encodeAll(TOKEN)}`,
  `/${TOKEN}`,
  `/v1/${TOKEN}/commands/`,
  `//${TOKEN}/v1/commands/`,
  `/V1/COMMANDS/?AGENT_TOKEN=${TOKEN}`,
  `http://127.0.0.1/v1/commands/?agent_token=${TOKEN}`,
  `http://user:${TOKEN}@127.0.0.1/v1/commands/`,
  `http://${TOKEN}/v1/status`,
];

describe('describeTarget, what the request log shows of a request target', () => {
  it('shows the API\'s own paths, a UUID-shaped command id and harmless query values as they are', () => {
    expect(describeTarget('/v1/commands/?wait=true')).toBe('/v1/commands/?wait=true');
    expect(describeTarget('/commands/0b6f7a9e-8c2d-4f1a-9b3e-2d4c6e8f0a1b')).toBe('/commands/0b6f7a9e-8c2d-4f1a-9b3e-2d4c6e8f0a1b');
    expect(describeTarget('/v1/status')).toBe('/v1/status');
    expect(describeTarget('/v1/commands/?agent_token=x&wait=false')).toBe('/v1/commands/?agent_token=***&wait=false');
  });

  it.each(targets)('hides the token in %s', (target) => {
    expect(describeTarget(target)).not.toContain(TOKEN);
    expect(describeTarget(target)).not.toContain(encodeAll(TOKEN).slice(0, 12));
  });
});

describe('the agent\'s request log, with the logger\'s token scrub switched off', () => {
  let api: TestApiServer;
  afterEach(() => api?.close());

  it('never writes the token, whatever shape of URL carries it, and still logs every answered request', async () => {
    api = await startTestApi({ token: TOKEN, scrub: false });
    let answered = 0;
    for (const target of targets) {
      for (const method of ['GET', 'POST', 'DELETE']) {
        const body = method === 'POST' ? JSON.stringify({ name: 'clean.get_clean_steps', params: {} }) : '';
        const response = await rawRequest(api.port, `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
        expect(response.status, `${method} ${target}`).toBeGreaterThanOrEqual(200);
        expect(response.status, `${method} ${target}`).toBeLessThan(500);
        answered += 1;
      }
    }
    const requestLines = api.lines().filter((line) => line.includes('"msg":"request"'));
    // Evidence first: every request reached the log (Node's parser answers none of these itself).
    expect(requestLines).toHaveLength(answered);
    for (const line of api.lines()) {
      expect(line).not.toContain(TOKEN);
      expect(line).not.toContain(encodeAll(TOKEN).slice(0, 12));
      expect(line).not.toContain(encodeAll(TOKEN, true).slice(0, 12));
    }
  });
});
