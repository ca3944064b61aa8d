import { afterEach, describe, expect, it } from 'vitest';
import { startTestApi, type TestApiServer } from './api/api-test-server.ts';
import { createSecretScrubber } from './log-secrets.ts';

const TOKEN = 'Zq9x-SECRET_tokenABCDEFGHIJKLMNOPQRSTUVWXYZ';
const percent = (c: string) => [...Buffer.from(c)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
const encodeAll = (text: string) => [...text].map(percent).join('');
const encodeHalf = (text: string) => [...text].map((c, i) => (i % 2 ? percent(c).toUpperCase() : c)).join('');

describe('the logger\'s last-line scrub of the held token', () => {
  it.each([
    ['plain', TOKEN],
    ['percent-encoded, lower-case hex', encodeAll(TOKEN)],
    ['percent-encoded, upper-case hex', encodeAll(TOKEN).toUpperCase()],
    ['half percent-encoded', encodeHalf(TOKEN)],
    ['double percent-encoded', encodeAll(TOKEN).replaceAll('%', '%25')],
    ['triple percent-encoded', encodeAll(TOKEN).replaceAll('%', '%2525')],
  ])('replaces the token written %s, wherever it sits in the line', (_form, written) => {
    const scrub = createSecretScrubber(() => [TOKEN]);
    for (const line of [written, `{"msg":"x ${written} y"}`, `{"url":"/v1/commands/?a=${written}&b"}`, `${written}${written}`]) {
      const scrubbed = scrub(line);
      expect(scrubbed).toContain('***');
      expect(decodeURIComponent(decodeURIComponent(decodeURIComponent(scrubbed)))).not.toContain(TOKEN);
    }
  });

  it('replaces a token holding characters JSON escapes, in its escaped form, and a non-ASCII one percent-encoded', () => {
    const odd = 'tok"en\\with\u0001odd-é-characters-0123456789';
    const scrub = createSecretScrubber(() => [odd]);
    expect(scrub(JSON.stringify({ msg: `a ${odd} b` }))).toBe(JSON.stringify({ msg: 'a *** b' }));
    expect(scrub(`x=${encodeURIComponent(odd)}`)).toBe('x=***');
  });

  it('leaves lines without the token alone, and keeps hiding a token the agent held before', () => {
    let held: string | undefined;
    const scrub = createSecretScrubber(() => [held]);
    expect(scrub(`{"msg":"${TOKEN}"}`)).toBe(`{"msg":"${TOKEN}"}`);
    held = TOKEN;
    expect(scrub(`{"msg":"${TOKEN.slice(0, 42)}"}`)).toBe(`{"msg":"${TOKEN.slice(0, 42)}"}`);
    held = 'another-token-0123456789-0123456789-0123456';
    expect(scrub(`{"old":"${TOKEN}","new":"${held}"}`)).toBe('{"old":"***","new":"***"}');
  });
});

describe('the agent\'s logger with the scrub, through the API', () => {
  let api: TestApiServer;
  afterEach(() => api?.close());

  it('keeps the token out of a command\'s own log lines, in any encoding the client chose', async () => {
    api = await startTestApi({ token: TOKEN });
    for (const form of [TOKEN, encodeAll(TOKEN), encodeHalf(TOKEN), JSON.stringify(TOKEN)]) {
      const response = await fetch(`${api.base}/v1/commands/?agent_token=${TOKEN}`, { method: 'POST', body: JSON.stringify({ name: 'test.log_params', params: { note: `see ${form}`, nested: { deep: [form] } } }) });
      expect(response.status).toBe(200);
    }
    // Evidence: the command wrote its lines, with the token hidden in each.
    const paramLines = api.lines().filter((line) => line.includes('params received'));
    expect(paramLines).toHaveLength(4);
    for (const line of api.lines()) {
      expect(line).not.toContain(TOKEN);
      expect(decodeURIComponent(line.replace(/%(?![0-9a-f]{2})/gi, ''))).not.toContain(TOKEN);
    }
  });
});
