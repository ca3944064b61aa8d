/**
 * The agent's HTTP API against generated hostile clients: the real server
 * (createApi behind serveApi, its timeouts short), a real command runner,
 * the agent's own logger with its last-line token scrub switched OFF (so a
 * leak in the request log or an error line shows), every request written on
 * a raw socket exactly as generated. After every request: an answer came
 * back, never a 5xx, every 4xx in IPA's fault shape, no command was created
 * by a refused request, the token is in no log line; every few requests,
 * GET /v1/status still answers.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fuzz } from '../../../test/support/fuzz.ts';
import { rawRequest, startTestApi, type RawResponse, type TestApiServer } from './api-test-server.ts';

const TOKEN = 'Zq9x-SECRET_tokenABCDEFGHIJKLMNOPQRSTUVWXYZ';
const BODY_LIMIT = 16 * 1024;
let api: TestApiServer;
let sent = 0;

beforeAll(async () => {
  api = await startTestApi({ token: TOKEN, scrub: false, bodyLimitBytes: BODY_LIMIT, limits: { headersTimeoutMs: 500, requestTimeoutMs: 600, checkIntervalMs: 50 } });
});
afterAll(() => api.close());

const hex = (text: string) => [...Buffer.from(text)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
/** The token as a client might smuggle it: plain, percent-encoded, half encoded, double encoded. */
const plantedToken = fc.constantFrom(TOKEN, hex(TOKEN), hex(TOKEN).toUpperCase(), [...TOKEN].map((c, i) => (i % 3 ? c : hex(c))).join(''), hex(TOKEN).replaceAll('%', '%25'));
const oddPiece = fc.constantFrom('%', '%4', '%zz', '%E0%A4', '%00', '%2F', ';', '\\', '//', '..', '[]', '[x]', '#', '?', '&', '=', '@', ':', '"', "'", '<', '{', '|', '~', 'é', '\u0000', ' ');
const textPiece = fc.oneof(fc.string({ unit: 'grapheme-ascii', maxLength: 10 }), oddPiece, plantedToken);
const uuid = fc.uuid();

const path = fc.oneof(
  fc.constantFrom('/', '/v1', '/v1/', '/status', '/v1/status', '/commands', '/commands/', '/v1/commands', '/v1/commands/', '/V1/COMMANDS/', '/v2/', '*'),
  fc.tuple(fc.constantFrom('/v1/commands/', '/commands/'), fc.oneof(uuid, fc.array(textPiece, { maxLength: 4 }).map((p) => p.join('')))).map(([a, b]) => a + b),
  fc.array(fc.tuple(fc.constantFrom('/', '/v1/', '/commands/'), textPiece), { minLength: 1, maxLength: 4 }).map((parts) => parts.flat().join('')),
  plantedToken.map((t) => `/${t}`),
);
const queryName = fc.oneof(fc.constantFrom('agent_token', 'agent_token[]', 'agent_token[x]', 'Agent_Token', 'agent%5Ftoken', 'wait', 'WAIT', ''), textPiece);
const queryValue = fc.oneof(fc.constantFrom(TOKEN, 'true', 'false', 'TRUE', '', 'wrong'), textPiece);
const query = fc.array(fc.tuple(queryName, fc.option(queryValue, { nil: undefined })), { maxLength: 4 })
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([n, v]) => (v === undefined ? n : `${n}=${v}`)).join('&')}`));
const fragment = fc.option(fc.array(textPiece, { maxLength: 2 }).map((p) => `#${p.join('')}`), { nil: '', freq: 4 });

const commandName = fc.oneof(fc.constantFrom('clean.get_clean_steps', 'test.echo', 'clean.nope', 'nope.nope', 'clean.', '.x', 'clean', '__proto__.x', 'constructor.name', 'clean.__proto__', 'test.toString'), fc.string({ maxLength: 12 }));
const json = fc.oneof(
  { weight: 4, arbitrary: fc.record({ name: commandName, params: fc.oneof(fc.object(), fc.jsonValue(), fc.constant({}), plantedToken.map((t) => ({ token_like: t, agent_token: t }))) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '{', '{"name":', '[[[[[[[[', '{"__proto__":{"x":1},"name":"clean.get_clean_steps","params":{}}', `{"name":"test.echo","params":{"a":"${'x'.repeat(BODY_LIMIT)}"}}`, '\u0000', '"\\ud800"') },
);
const headerLine = fc.oneof(
  fc.constantFrom('Content-Type: application/json', 'Content-Type: text/plain; charset=latin1', 'Content-Type: application/json; charset=utf-16', 'Content-Encoding: gzip', 'Content-Encoding: identity',
    'Expect: 100-continue', 'Connection: keep-alive', 'Accept: */*', 'Host: evil', 'X-Forwarded-For: 10.0.0.1', 'Authorization: Bearer x'),
  plantedToken.map((t) => `X-Auth-Token: ${t}`),
  fc.tuple(fc.stringMatching(/^[A-Za-z0-9-]{1,12}$/), fc.string({ unit: 'grapheme-ascii', maxLength: 20 })).map(([n, v]) => `X-${n}: ${v.replace(/[\r\n]/g, '')}`),
);

/** A request as generated: the parts, then how it is framed on the wire. */
const wellFormed = fc.record({
  method: fc.constantFrom('GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'),
  target: fc.tuple(path, query, fragment).map((p) => p.join('')),
  headers: fc.array(headerLine, { maxLength: 3 }),
  body: fc.option(json, { nil: undefined, freq: 3 }),
  framing: fc.constantFrom('length', 'length', 'length', 'chunked'),
});

function frame(request: { method: string; target: string; headers: string[]; body: string | undefined; framing: string }): Buffer {
  const body = Buffer.from(request.body ?? '');
  const framing = request.body === undefined ? [] : request.framing === 'chunked' ? ['Transfer-Encoding: chunked'] : [`Content-Length: ${body.length}`];
  const head = Buffer.from(`${request.method} ${request.target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${[...request.headers, ...framing, 'Connection: close'].map((h) => `${h}\r\n`).join('')}\r\n`);
  const payload = request.body !== undefined && request.framing === 'chunked'
    ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from(body.length ? '\r\n0\r\n\r\n' : '\r\n')])
    : body;
  return Buffer.concat([head, payload]);
}

/** The invariants every answer must keep, whatever was sent. */
async function sendAndCheck(wire: Buffer | Buffer[], method: string, options: { halfClose?: boolean } = {}): Promise<RawResponse> {
  const before = new Set(api.runner.list().map((c) => c.id));
  checkLog(api.takeLines(), 'before the request');
  const response = await rawRequest(api.port, wire, { waitMs: 5_000, untilAnswered: true, head: method === 'HEAD', ...options });
  sent += 1;
  const what = `${JSON.stringify(Buffer.concat([wire].flat()).toString('latin1').slice(0, 300))} -> ${response.status} ${response.body.slice(0, 200)}`;
  // Answered; or, for a client that stopped sending before a request began (only empty lines), closed.
  if (!(options.halfClose && response.closed)) expect(response.status, what).toBeGreaterThan(0);
  expect(response.status, what).toBeLessThan(500);
  if (response.status >= 400 && method !== 'HEAD') {
    expect(JSON.parse(response.body), what).toMatchObject({ faultcode: 'Client', faultstring: expect.any(String), error_code: expect.stringMatching(/^INGOT_[A-Z_]+$/) });
  }
  if (response.status < 200 || response.status >= 300) expect(api.runner.list().map((c) => c.id).filter((id) => !before.has(id)), what).toEqual([]);
  checkLog(api.takeLines(), what);
  if (sent % 50 === 0) await expectStillAnswering();
  return response;
}

function checkLog(lines: string[], what: string): void {
  for (const line of lines) {
    expect(line, what).not.toContain(TOKEN);
    expect(line.toLowerCase(), what).not.toContain(hex(TOKEN).slice(0, 15).toLowerCase());
  }
}

async function expectStillAnswering(): Promise<void> {
  const status = await rawRequest(api.port, 'GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
  expect(status.status).toBe(200);
}

it('answers every generated request of any method, path, query, header and JSON body without a 5xx or a leak', async () => {
  await fuzz('agent HTTP API: generated requests keep the invariants (no 5xx, fault shape, no command on refusal, no token in the log)', 2_300, fc.asyncProperty(wellFormed, async (request) => {
    await sendAndCheck(frame(request), request.method);
  }));
  await expectStillAnswering();
});

/** Bytes no well-behaved client sends: broken request lines, header syntax and framing. */
const malformed = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }).map((s) => Buffer.from(`${s}\r\n\r\n`)),
  fc.tuple(fc.constantFrom('GET', 'POST', 'G\u0000T', 'get', 'BREW', ''), fc.array(textPiece, { maxLength: 4 }), fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 x', 'http/1.1', ''))
    .map(([m, t, v]) => Buffer.from(`${m} /v1/commands/${t.join('')} ${v}\r\nHost: x\r\nConnection: close\r\n\r\n`)),
  fc.tuple(fc.constantFrom('Content-Length: -1', 'Content-Length: 1, 2', 'Content-Length: 0x10', 'Content-Length: 99999999999999999999', 'Transfer-Encoding: chunked, gzip',
    'Transfer-Encoding: chunked\r\nContent-Length: 5', 'Content-Length: 5\r\nContent-Length: 6', ' Host: folded', 'Bad Header: x', 'X: \u0000', `X: ${'a'.repeat(17_000)}`), fc.string({ unit: 'grapheme-ascii', maxLength: 20 }))
    .map(([h, b]) => Buffer.from(`POST /v1/commands/?agent_token=${TOKEN} HTTP/1.1\r\nHost: x\r\n${h}\r\nConnection: close\r\n\r\n${b}`)),
  fc.tuple(fc.constantFrom('zz', '-1', '1;ext="x', '', 'fffffffffffffff', '3'), fc.string({ maxLength: 20 }))
    .map(([size, data]) => Buffer.from(`POST /v1/commands/?agent_token=${TOKEN} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${size}\r\n${data}\r\n0\r\n\r\n`)),
);

it('answers malformed raw requests in the fault shape, or closes them, and keeps serving', async () => {
  await fuzz('agent HTTP API: malformed request lines, headers and framing never get a 5xx or a leak', 1_700, fc.asyncProperty(malformed, async (wire) => {
    // The client then stops sending (a FIN), so an incomplete request ends at once rather than at the request timeout.
    await sendAndCheck(wire, 'GET', { halfClose: true });
  }));
  await expectStillAnswering();
});

it('answers 408 to a request whose body never arrives whole, and runs nothing', async () => {
  // Each waits for the request timeout, so a run sends its batch at once (as many such clients would)
  // and the run count stays small; the timeouts have their own tests (server-limits.test.ts).
  await fuzz('agent HTTP API: bodies shorter than announced, sent together, end with the request timeout, not a 5xx', 2, fc.asyncProperty(
    fc.array(fc.tuple(fc.integer({ min: 1, max: BODY_LIMIT - 20 }), fc.constantFrom('GET', 'POST', 'PUT')), { minLength: 1, maxLength: 16 }), async (batch) => {
      const before = new Set(api.runner.list().map((c) => c.id));
      checkLog(api.takeLines(), 'before the batch');
      const responses = await Promise.all(batch.map(([missing, method]) => rawRequest(api.port,
        `${method} /v1/commands/?agent_token=${TOKEN} HTTP/1.1\r\nHost: x\r\nContent-Length: ${20 + missing}\r\nConnection: close\r\n\r\n{"name":"test.echo",`, { waitMs: 5_000, untilAnswered: true })));
      const what = JSON.stringify(batch.map(([missing, method], i) => `${method} missing ${missing} -> ${responses[i]!.status} ${responses[i]!.body.slice(0, 120)}`));
      batch.forEach(([, method], i) => {
        const response = responses[i]!;
        expect(response.status, what).toBeGreaterThan(0);
        expect(response.status, what).toBeLessThan(500);
        if (response.status >= 400) expect(JSON.parse(response.body), what).toMatchObject({ faultcode: 'Client', error_code: expect.stringMatching(/^INGOT_[A-Z_]+$/) });
        // A GET is answered without its body being read; a POST waits for it and gets the timeout.
        if (method === 'POST') expect(response.status, what).toBe(408);
      });
      expect(api.runner.list().map((c) => c.id).filter((id) => !before.has(id)), what).toEqual([]);
      checkLog(api.takeLines(), what);
      await expectStillAnswering();
    }));
});

it('keeps Ironic\'s tokenless polling working after any sequence of GETs that do not carry the valid token', async () => {
  const gateApi = await startTestApi({ token: TOKEN, scrub: false });
  try {
    const wrongQuery = fc.oneof(
      fc.constantFrom('', `agent_token[]=${TOKEN}`, `agent_token=${TOKEN}&agent_token=${TOKEN}`, 'agent_token=', `Agent_Token=${TOKEN}`, `agent_token=${TOKEN}x`, `agent_token=${TOKEN.slice(1)}`),
      fc.string({ unit: 'grapheme-ascii', maxLength: 45 }).filter((t) => t !== TOKEN).map((t) => `agent_token=${encodeURIComponent(t)}`),
    );
    await fuzz('agent HTTP API: GETs without the valid token never switch off tokenless polling', 500, fc.asyncProperty(
      fc.constantFrom('/v1/commands/', '/commands/', '/v1/commands/0b6f7a9e-8c2d-4f1a-9b3e-2d4c6e8f0a1b'), wrongQuery, async (route, q) => {
        const wrong = await rawRequest(gateApi.port, `GET ${route}?${q} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        expect(wrong.status).toBeLessThan(500);
        const polled = await rawRequest(gateApi.port, 'GET /v1/commands/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
        expect(polled.status, `after GET ${route}?${q} -> ${wrong.status}`).toBe(200);
      }));
  } finally {
    await gateApi.close();
  }
});
