import { afterEach, describe, expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import { rawRequest, startTestApi, type TestApiServer } from './api-test-server.ts';
import { createGetTokenGate } from './get-token-gate.ts';

const TOKEN = 'Zq9x-SECRET_tokenABCDEFGHIJKLMNOPQRSTUVWXYZ';
/** Every way a GET can carry something that is not the valid token. */
const wrongTokens = ['', 'wrong', TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toLowerCase(), `%20${TOKEN}`, `${TOKEN}%00`, encodeURIComponent(`${TOKEN}\n`)];
const wrongQueries = [
  ...wrongTokens.map((token) => `agent_token=${token}`),
  `agent_token=${TOKEN}&agent_token=${TOKEN}`,
  `agent_token=wrong&agent_token=${TOKEN}`,
  'agent_token',
];
/** Shapes that do not present `agent_token` at all: the gate treats them as tokenless. */
const tokenlessQueries = [`agent_token[]=${TOKEN}`, `agent_token[x]=${TOKEN}`, `Agent_Token=${TOKEN}`, `${TOKEN}=`, ''];

const refused = (check: () => void) => {
  try { check(); return false; } catch (error) { if (isIngotError(error, 'INGOT_TOKEN_INVALID')) return true; throw error; }
};

describe('the late-binding token gate on GETs', () => {
  it('closes only on the valid token: a wrong token is refused and leaves tokenless GETs passing', () => {
    const gate = createGetTokenGate({ tokens: { current: () => TOKEN }, requireAlways: false });
    for (const wrong of [...wrongTokens, [TOKEN, TOKEN], ['x'], {}]) {
      expect(refused(() => gate.check(wrong)), JSON.stringify(wrong)).toBe(true);
      expect(gate.closed).toBe(false);
      expect(refused(() => gate.check(undefined))).toBe(false);
    }
    expect(refused(() => gate.check(TOKEN))).toBe(false);
    expect(gate.closed).toBe(true);
    expect(refused(() => gate.check(undefined))).toBe(true);
  });

  it('never closes while the agent holds no token, and opens again when the agent holds another one', () => {
    let held: string | undefined;
    const gate = createGetTokenGate({ tokens: { current: () => held }, requireAlways: false });
    expect(refused(() => gate.check(TOKEN))).toBe(true);
    expect(gate.closed).toBe(false);
    held = TOKEN;
    gate.check(TOKEN);
    expect(gate.closed).toBe(true);
    held = 'a-new-token-from-a-new-lookup-0123456789abc';
    expect(gate.closed).toBe(false);
    expect(refused(() => gate.check(undefined))).toBe(false);
  });

  it('is closed from the start with requireAlways (IPA 12.0 and later)', () => {
    const gate = createGetTokenGate({ tokens: { current: () => TOKEN }, requireAlways: true });
    expect(refused(() => gate.check(undefined))).toBe(true);
    expect(refused(() => gate.check(TOKEN))).toBe(false);
  });
});

describe('the agent API\'s GETs, as Ironic 21.4 polls them without a token', () => {
  let api: TestApiServer;
  afterEach(() => api?.close());
  const get = async (target: string) => (await rawRequest(api.port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)).status;

  it('keep passing tokenless after any number of wrong-token GETs on both routes, and stop only after a GET with the valid token', async () => {
    api = await startTestApi({ token: TOKEN });
    const created = await fetch(`${api.base}/v1/commands/?agent_token=${TOKEN}`, { method: 'POST', body: JSON.stringify({ name: 'clean.get_clean_steps', params: {} }) });
    const { id } = await created.json() as { id: string };
    for (const route of ['/v1/commands/', '/commands/', `/v1/commands/${id}`, `/commands/${id}`]) {
      for (const query of wrongQueries) expect(await get(`${route}?${query}`), `${route}?${query}`).toBe(401);
      for (const query of tokenlessQueries) expect(await get(`${route}?${query}`), `${route}?${query}`).toBe(200);
      expect(await get(route)).toBe(200);
    }
    // A POST with the valid token is not a GET: Ironic's polling still passes.
    expect(created.status).toBe(200);
    expect(await get('/v1/commands/')).toBe(200);
    expect(await get(`/v1/commands/${id}?agent_token=${TOKEN}`)).toBe(200);
    expect(await get('/v1/commands/')).toBe(401);
    expect(await get(`/commands/${id}`)).toBe(401);
  });

  it('take the valid token however its name or value is percent-encoded, as the query parser decodes both', async () => {
    api = await startTestApi({ token: TOKEN });
    expect(await get(`/v1/commands/?agent%5Ftoken=${encodeURIComponent(TOKEN).replace(/[A-Z]/g, (c) => `%${c.charCodeAt(0).toString(16)}`)}`)).toBe(200);
    expect(await get('/v1/commands/')).toBe(401);
  });
});
