import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { compress as zstdCompress } from 'zstd-napi';
import { isIngotError } from '@ingot/protocol';
import { createLogger } from '@ingot/agent';
import { proxyFor, writeImage, type WriteImageProgress, type WriteImageRequest } from '@ingot/agent/image-pipeline';
import { createTestCertificate } from '@ingot/conductor-client/testing';
import { ImageHttpServer } from '../support/image-http-server.ts';
import { sandboxFor, sparseDiskFile } from './deploy-support.ts';
import { hasTools, readBytes } from './loop-disks.ts';
import { prerequisite } from '../support/prerequisite.ts';

const MiB = 1024 * 1024;
const TARGET_SIZE = 16 * MiB;
const log = createLogger({ level: 'silent' });
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** 6 MiB of random bytes and a ragged tail, so every byte's place is checked. */
const image = randomBytes(6 * MiB + 4321);
image.write('ingot-http-head', 0);
const zstd = zstdCompress(image);

const server = new ImageHttpServer();
let work = '';
let target = '';

function request(urls: string[], expected: string, overrides: Partial<WriteImageRequest> = {}): WriteImageRequest {
  return {
    urls,
    expectedDigest: { algorithm: 'sha256', value: expected },
    target: { path: target, size: TARGET_SIZE },
    system: sandboxFor(target).system,
    log,
    options: { stallTimeoutMs: 2000, totalTimeoutMs: 30_000, retries: 3, backoff: { initialMs: 10, maxMs: 50, factor: 2 } },
    ...overrides,
  };
}

async function failure(promise: Promise<unknown>, code: string): Promise<Error> {
  const error = await promise.then(() => undefined, (e: unknown) => e as Error);
  expect(error, `expected ${code}`).toBeDefined();
  expect(isIngotError(error) ? error.code : String(error)).toBe(code);
  return error!;
}

const written = async () => sha256(await readBytes(target, 0, image.length));

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ingot-http-'));
  await server.start();
});

afterAll(async () => {
  await server.stop();
  await rm(work, { recursive: true, force: true });
});

beforeEach(async () => {
  server.reset();
  target = await sparseDiskFile(work, TARGET_SIZE);
});

describe('chunked bodies (no Content-Length)', () => {
  it('writes a raw image sent chunked, reporting progress without a total or an ETA', async () => {
    server.routes.set('/image.raw', { body: image, chunked: true, chunkSize: 64 * 1024 });
    const seen: WriteImageProgress[] = [];
    const result = await writeImage({ ...request([server.url('/image.raw')], sha256(image)), onProgress: (p) => seen.push(p), options: { ...request([], '').options, progressIntervalMs: 5 } });
    expect(result).toMatchObject({ format: 'raw', servedBytes: image.length, imageBytes: image.length });
    expect(await written()).toBe(sha256(image));
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((p) => p.bytesTotal === undefined && p.etaSeconds === undefined)).toBe(true);
    expect(seen.at(-1)!.bytesDone).toBe(image.length);
  });

  it('decodes a zstd image sent in small chunks', async () => {
    server.routes.set('/image.zst', { body: zstd, chunked: true, chunkSize: 4093 });
    const result = await writeImage(request([server.url('/image.zst')], sha256(zstd)));
    expect(result.format).toBe('zstd');
    expect(await written()).toBe(sha256(image));
  });

  it('resumes a chunked stream cut before its last chunk with a Range request', async () => {
    server.routes.set('/cut.zst', { body: zstd, chunked: true, cutFirstAfter: 2 * MiB + 3 });
    const result = await writeImage(request([server.url('/cut.zst')], sha256(zstd)));
    expect(result.resumes).toBe(1);
    expect(server.requests.map((r) => r.range)).toEqual([undefined, `bytes=${2 * MiB + 3}-`]);
    expect(await written()).toBe(sha256(image));
  });

  it('starts over from byte 0 when the server of a cut chunked stream ignores Range', async () => {
    server.routes.set('/norange.raw', { body: image, chunked: true, ranges: false, cutFirstAfter: MiB });
    const result = await writeImage(request([server.url('/norange.raw')], sha256(image)));
    expect(result.restarts).toBe(1);
    expect(await written()).toBe(sha256(image));
  });

  it('treats a chunked stream that lost only its terminating chunk as complete once a Range request says so (416)', async () => {
    server.routes.set('/all-but-end.raw', { body: image, chunked: true, cutFirstAfter: image.length });
    const result = await writeImage(request([server.url('/all-but-end.raw')], sha256(image)));
    expect(server.requests.map((r) => r.range)).toEqual([undefined, `bytes=${image.length}-`]);
    expect(result.servedBytes).toBe(image.length);
    expect(await written()).toBe(sha256(image));
  });

  it('never reports success for a chunked stream that is always cut, and wipes what was written', async () => {
    server.routes.set('/always-cut.raw', { body: image, chunked: true, ranges: false, cutAlwaysAfter: 3 * MiB });
    const error = await failure(writeImage(request([server.url('/always-cut.raw')], sha256(image), { options: { ...request([], '').options, retries: 2 } })), 'INGOT_IMAGE_DOWNLOAD');
    expect(error.message).toMatch(/before the last chunk/);
    expect((await readBytes(target, 0, MiB)).every((b) => b === 0)).toBe(true);
  });
});

describe('formats the bytes show', () => {
  it('refuses a VMDK (or any format that may reference other files) before writing a byte, whatever was declared', async () => {
    const vmdk = Buffer.concat([Buffer.from('KDMV\x01\x00\x00\x00', 'latin1'), randomBytes(MiB)]);
    server.routes.set('/disk.vmdk', { body: vmdk });
    const error = await failure(writeImage(request([server.url('/disk.vmdk')], sha256(vmdk))), 'INGOT_IMAGE_FORMAT');
    expect(error.message).toMatch(/vmdk images are not accepted/);
    expect((await readBytes(target, 0, MiB)).every((b) => b === 0)).toBe(true);
  });

  it('refuses a raw image declared qcow2, as a mislabelled or truncated image', async () => {
    server.routes.set('/image.raw', { body: image });
    const error = await failure(writeImage({ ...request([server.url('/image.raw')], sha256(image)), declaredFormat: 'qcow2' }), 'INGOT_IMAGE_FORMAT');
    expect(error.message).toMatch(/declared qcow2/);
    expect((await readBytes(target, 0, MiB)).every((b) => b === 0)).toBe(true);
  });
});

describe('answers that are not retried', () => {
  it('fails at once on 403 with INGOT_IMAGE_REQUEST_REFUSED naming the URL with its signature redacted', async () => {
    server.routes.set('/forbidden.raw', { body: image, status: 403 });
    const error = await failure(writeImage(request([`${server.url('/forbidden.raw')}?X-Amz-Signature=secret`], sha256(image))), 'INGOT_IMAGE_REQUEST_REFUSED');
    expect(error.message).toContain(`${server.url('/forbidden.raw')}?X-Amz-Signature=***: HTTP 403`);
    expect(error.message).not.toContain('secret');
    expect(isIngotError(error) && error.retryable).toBe(false);
    expect(server.requests).toHaveLength(1);
  });

  it('still tries the next URL after a 404, and only the next', async () => {
    server.routes.set('/here.raw', { body: image });
    const result = await writeImage(request([server.url('/gone.raw'), server.url('/here.raw')], sha256(image)));
    expect(result.url).toBe(server.url('/here.raw'));
    expect(server.requests.map((r) => r.path)).toEqual(['/gone.raw', '/here.raw']);
  });

  it('fails with INGOT_IMAGE_NOT_FOUND when every URL answers 404', async () => {
    const error = await failure(writeImage(request([server.url('/a.raw'), server.url('/b.raw')], sha256(image))), 'INGOT_IMAGE_NOT_FOUND');
    expect(error.message).toContain(server.url('/b.raw'));
    expect(server.requests.map((r) => r.path)).toEqual(['/a.raw', '/b.raw']);
  });
});

const certificate = createTestCertificate();
const tlsServer = new ImageHttpServer({ key: certificate.key, cert: certificate.cert });

describe('https with a given CA', () => {
  beforeAll(() => tlsServer.start());
  afterAll(() => tlsServer.stop());
  beforeEach(() => tlsServer.reset());

  it('verifies the image server against the given CA', async () => {
    tlsServer.routes.set('/image.zst', { body: zstd, cutFirstAfter: MiB });
    const result = await writeImage(request([tlsServer.url('/image.zst')], sha256(zstd), { caPem: certificate.cert }));
    expect(result.resumes).toBe(1);
    expect(await written()).toBe(sha256(image));
  });

  it('refuses a server whose certificate the CA does not vouch for, at once and with what to do', async () => {
    tlsServer.routes.set('/image.zst', { body: zstd });
    const other = createTestCertificate({ commonName: 'someone-else' });
    const error = await failure(writeImage(request([tlsServer.url('/image.zst')], sha256(zstd), { caPem: other.cert })), 'INGOT_IMAGE_DOWNLOAD');
    expect(error.message).toMatch(/TLS certificate was not accepted.*give the CA/);
    expect(tlsServer.requests).toHaveLength(0);
  });
});

const tinyproxy = prerequisite('the HTTP proxy tests', await hasTools('tinyproxy'));

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Debian's tinyproxy on 127.0.0.1, in the foreground, its connection log collected from stdout. */
class Tinyproxy {
  output = '';
  port = 0;
  private child: ChildProcess | undefined;

  async start(dir: string): Promise<void> {
    this.port = await freePort();
    const config = join(dir, 'tinyproxy.conf');
    // No ConnectPort line: CONNECT is allowed to any port (the test server's is random).
    await writeFile(config, [`Port ${this.port}`, 'Listen 127.0.0.1', 'Timeout 30', 'MaxClients 20', 'Allow 127.0.0.1', 'LogLevel Connect', ''].join('\n'));
    this.child = spawn('tinyproxy', ['-d', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer) => { this.output += chunk.toString(); };
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
    for (let i = 0; i < 100 && !/Reloading config file finished|listening/i.test(this.output); i++) await new Promise((r) => setTimeout(r, 50));
  }

  url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child!.once('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
  }
}

tinyproxy.describe('through a real HTTP proxy (tinyproxy)', () => {
  const proxy = new Tinyproxy();
  beforeAll(async () => {
    await tlsServer.start();
    await proxy.start(work);
  });
  afterAll(async () => {
    await proxy.stop();
    await tlsServer.stop();
  });
  beforeEach(() => {
    tlsServer.reset();
    proxy.output = '';
  });

  it('sends an http URL through the proxy as an absolute-form request, resuming through it too', async () => {
    server.routes.set('/proxied.raw', { body: image, cutFirstAfter: MiB });
    const result = await writeImage(request([server.url('/proxied.raw')], sha256(image), { proxy: proxy.url() }));
    expect(result.resumes).toBe(1);
    expect(await written()).toBe(sha256(image));
    expect(server.requests.map((r) => r.via)).toEqual([expect.stringMatching(/tinyproxy/), expect.stringMatching(/tinyproxy/)]);
    expect(proxy.output).toContain(`GET ${server.url('/proxied.raw')} HTTP/1.1`);
  });

  it('tunnels an https URL through CONNECT and verifies the server end to end', async () => {
    tlsServer.routes.set('/tunnelled.zst', { body: zstd });
    const result = await writeImage(request([tlsServer.url('/tunnelled.zst')], sha256(zstd), { proxy: proxy.url(), caPem: certificate.cert }));
    expect(result.format).toBe('zstd');
    expect(await written()).toBe(sha256(image));
    expect(proxy.output).toContain(`CONNECT 127.0.0.1:${tlsServer.port} HTTP/1.1`);
    expect(tlsServer.requests[0]?.via).toBeUndefined(); // the proxy saw only encrypted bytes
    // A raw image (read straight into the image slots) cut once: resumed through a new tunnel.
    tlsServer.routes.set('/tunnelled.raw', { body: image, cutFirstAfter: MiB + 1 });
    const raw = await writeImage(request([tlsServer.url('/tunnelled.raw')], sha256(image), { proxy: proxy.url(), caPem: certificate.cert }));
    expect(raw.resumes).toBe(1);
    expect(await written()).toBe(sha256(image));
  });

  it('goes around the proxy for a host listed in no_proxy, choosing per URL as deploy does', async () => {
    server.routes.set('/direct.raw', { body: image });
    const choose = (url: URL) => proxyFor({ http: proxy.url(), https: proxy.url() }, 'localhost,127.0.0.1', url);
    await writeImage(request([server.url('/direct.raw')], sha256(image), { proxy: choose }));
    expect(await written()).toBe(sha256(image));
    expect(server.requests[0]?.via).toBeUndefined();
    expect(proxy.output).not.toContain('/direct.raw');
  });

  it('reports a proxy that refuses CONNECT clearly, naming the image URL without credentials', async () => {
    const error = await failure(writeImage(request([`https://user:pw@127.0.0.1:1/x.raw`], sha256(image), { proxy: proxy.url(), options: { ...request([], '').options, retries: 0 } })), 'INGOT_IMAGE_DOWNLOAD');
    expect(error.message).toMatch(/CONNECT/);
    expect(error.message).toContain('https://***@127.0.0.1:1/x.raw');
    expect(error.message).not.toContain('user');
    expect(error.message).not.toContain('pw');
  });
});
