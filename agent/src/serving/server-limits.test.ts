import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { rawRequest, startTestApi, type TestApiServer } from '../api/api-test-server.ts';
import { createSelfSignedCertificate } from '../tls/self-signed.ts';

const TOKEN = 'Zq9x-SECRET_tokenABCDEFGHIJKLMNOPQRSTUVWXYZ';
const MiB = 1024 * 1024;
let api: TestApiServer | undefined;
afterEach(async () => { await api?.close(); api = undefined; });

const fault = (body: string) => JSON.parse(body) as { faultcode: string; faultstring: string; error_code: string };
const head = (method: string, target: string, headers: Record<string, string | number> = {}) =>
  `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;

describe('a request announcing a body larger than the limit', () => {
  it.each([10 * MiB, 100 * MiB])('is refused with 413 as soon as %i bytes are announced, and closed, before any timeout could fire', async (announced) => {
    // Timeouts far beyond the wait: an answer and a close within it cannot be a timeout's.
    api = await startTestApi({ token: TOKEN, bodyLimitBytes: MiB, limits: { headersTimeoutMs: 60_000, requestTimeoutMs: 120_000 } });
    for (const [method, target] of [['POST', `/v1/commands/?agent_token=${TOKEN}`], ['POST', '/v1/commands/'], ['GET', '/v1/commands/'], ['PUT', '/v1/status'], ['POST', '/nowhere']]) {
      const response = await rawRequest(api.port, head(method!, target!, { 'Content-Type': 'application/json', 'Content-Length': announced }), { waitMs: 20_000 });
      const what = `${method} ${target}`;
      expect(response.status, what).toBe(413);
      expect(fault(response.body), what).toMatchObject({ faultcode: 'Client', error_code: 'INGOT_BODY_TOO_LARGE' });
      expect(response.closed, what).toBe(true);
      expect(response.headers.connection).toBe('close');
    }
    expect(api.runner.list()).toEqual([]);
  });

  it('is refused with 413 when a chunked body passes the limit, without waiting for its end', async () => {
    api = await startTestApi({ token: TOKEN, bodyLimitBytes: 64 * 1024, limits: { headersTimeoutMs: 60_000, requestTimeoutMs: 120_000 } });
    const chunk = 'x'.repeat(70 * 1024);
    const response = await rawRequest(api.port, [head('POST', `/v1/commands/?agent_token=${TOKEN}`, { 'Transfer-Encoding': 'chunked' }), `${chunk.length.toString(16)}\r\n${chunk}\r\n`], { waitMs: 20_000 });
    expect(response.status).toBe(413);
    expect(response.closed).toBe(true);
    expect(api.runner.list()).toEqual([]);
  });

  it('within the limit is still read and run, sent at once or in chunks', async () => {
    api = await startTestApi({ token: TOKEN, bodyLimitBytes: 64 * 1024 });
    const body = JSON.stringify({ name: 'test.echo', params: { blob: 'y'.repeat(60 * 1024) } });
    const whole = await rawRequest(api.port, head('POST', `/v1/commands/?agent_token=${TOKEN}`, { 'Content-Length': body.length, Connection: 'close' }) + body);
    expect(whole.status).toBe(200);
    const half = body.length >> 1;
    const chunked = await rawRequest(api.port, [
      head('POST', `/v1/commands/?agent_token=${TOKEN}`, { 'Transfer-Encoding': 'chunked', Connection: 'close' }),
      `${half.toString(16)}\r\n${body.slice(0, half)}\r\n`, `${(body.length - half).toString(16)}\r\n${body.slice(half)}\r\n0\r\n\r\n`,
    ], { gapMs: 50 });
    expect(chunked.status).toBe(200);
    expect(api.runner.list()).toHaveLength(2);
  });
});

describe('a client that holds its connection without finishing its request', () => {
  const short = { headersTimeoutMs: 800, requestTimeoutMs: 1_600, checkIntervalMs: 100 };

  it('is answered 408 in the fault shape and closed when it opens a connection and sends nothing', async () => {
    api = await startTestApi({ limits: short });
    const response = await rawRequest(api.port, [], { waitMs: 15_000 });
    expect(response.closed).toBe(true);
    expect(response.status).toBe(408);
    expect(fault(response.body).error_code).toBe('INGOT_REQUEST_TIMEOUT');
  });

  it('is closed when it trickles its headers a byte at a time', async () => {
    api = await startTestApi({ limits: short });
    const bytes = [...`GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'a'.repeat(200)}`];
    const started = performance.now();
    const response = await rawRequest(api.port, bytes, { gapMs: 100, waitMs: 15_000 });
    expect(response.closed).toBe(true);
    expect(response.status).toBe(408);
    // Cut long before the last of its 250 bytes (25 s at this pace) was sent.
    expect(performance.now() - started).toBeLessThan(bytes.length * 100);
  });

  it('is closed when it trickles a body it announced, even one within the limit', async () => {
    api = await startTestApi({ token: TOKEN, limits: short });
    const body = JSON.stringify({ name: 'clean.get_clean_steps', params: {} }).padEnd(400, ' ');
    const started = performance.now();
    const response = await rawRequest(api.port, [head('POST', `/v1/commands/?agent_token=${TOKEN}`, { 'Content-Length': body.length }), ...body.match(/.{1,4}/g)!], { gapMs: 100, waitMs: 15_000 });
    expect(response.closed).toBe(true);
    expect(response.status).toBe(408);
    expect(performance.now() - started).toBeLessThan(100 * 100);
    expect(api.runner.list()).toEqual([]);
  });

  it('does not cut an answer that takes longer than the timeouts: they are about receiving the request', async () => {
    api = await startTestApi({ token: TOKEN, limits: short });
    const started = await (await fetch(`${api.base}/v1/commands/?agent_token=${TOKEN}`, { method: 'POST', body: JSON.stringify({ name: 'clean.hold', params: {} }) })).json() as { id: string };
    // The test server's wait limit is 2 s, beyond both timeouts (0.8 s, 1.6 s).
    const response = await rawRequest(api.port, head('GET', `/v1/commands/${started.id}?wait=true&agent_token=${TOKEN}`, { Connection: 'close' }), { waitMs: 15_000 });
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ id: started.id, command_status: 'RUNNING' });
    api.release();
  });
});

describe('a client of the HTTPS server that holds its connection', () => {
  const short = { headersTimeoutMs: 800, requestTimeoutMs: 1_600, checkIntervalMs: 100 };
  const connectTls = async (port: number, cert: string) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: cert, checkServerIdentity: () => undefined });
    await once(socket, 'secureConnect');
    return socket;
  };

  it('is closed when it never starts the TLS handshake, or finishes it and sends nothing', async () => {
    const { certPem, keyPem } = createSelfSignedCertificate({ ip: '127.0.0.1', commonName: 'ingot test' });
    api = await startTestApi({ limits: short, tls: { kind: 'automatic', cert: certPem, key: keyPem } });
    // Evidence the server speaks TLS and answers at all.
    const served = await connectTls(api.port, certPem);
    served.end('GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect((await once(served, 'data')).toString()).toMatch(/^HTTP\/1\.1 200/);
    const idle = await rawRequest(api.port, [], { waitMs: 15_000 });
    expect(idle).toMatchObject({ closed: true, status: 0 });
    const quiet = await connectTls(api.port, certPem);
    quiet.resume();
    const closed = once(quiet, 'close');
    const cut = await Promise.race([closed.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 15_000))]);
    expect(cut).toBe(true);
  }, 60_000);
});

describe('requests Node\'s HTTP parser refuses', () => {
  it.each([
    ['a malformed request line', 'GET /v1/status HTTP/9.x\r\n\r\n', 400, 'INGOT_BAD_REQUEST'],
    ['a header without a colon', 'GET /v1/status HTTP/1.1\r\nHost x\r\n\r\n', 400, 'INGOT_BAD_REQUEST'],
    ['a conflicting Content-Length', 'POST /v1/commands/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 400, 'INGOT_BAD_REQUEST'],
    ['headers over 16 KiB', `GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(17 * 1024)}\r\n\r\n`, 431, 'INGOT_HEADERS_TOO_LARGE'],
    ['an unknown method', 'BREW /v1/status HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'INGOT_BAD_REQUEST'],
  ])('are answered in IPA\'s fault shape and closed: %s', async (_what, request, status, code) => {
    api = await startTestApi();
    const response = await rawRequest(api.port, request, { waitMs: 10_000 });
    expect(response.status).toBe(status);
    expect(fault(response.body)).toMatchObject({ faultcode: 'Client', error_code: code });
    expect(response.closed).toBe(true);
  });
});

describe('the connection limit', () => {
  it('closes connections beyond it at once, and serves again once others are gone', async () => {
    api = await startTestApi({ limits: { maxConnections: 5 } });
    const held = await Promise.all(Array.from({ length: 5 }, async () => {
      const socket = net.connect(api!.port, '127.0.0.1');
      await once(socket, 'connect');
      return socket;
    }));
    // Evidence that the five are accepted, not still in the backlog: each answers a request.
    for (const socket of held) socket.write(head('GET', '/v1/status'));
    await Promise.all(held.map((socket) => once(socket, 'data')));
    const refused = await rawRequest(api.port, head('GET', '/v1/status'), { waitMs: 10_000 });
    expect(refused).toMatchObject({ status: 0, closed: true });
    for (const socket of held) socket.destroy();
    // The server counts a connection gone once it has seen the close: ask until it has.
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt += 1) status = (await rawRequest(api.port, head('GET', '/v1/status', { Connection: 'close' }))).status;
    expect(status).toBe(200);
  });
});
