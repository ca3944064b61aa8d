/**
 * `ingot-conductor snapshot` and `deploy --snapshot`: the command line
 * (parse, help, refusals) and runs against the fake agent, with a small
 * WebDAV-like server on 127.0.0.1 as the `put` store (the Swift and S3 stores
 * are proven against the real Swift in test/integration/snapshot-stores.test.ts).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { IngotError, type SnapshotCaptureResult, type SnapshotTarget } from '@ingot/protocol';
import { EXIT, runProgram } from '@ingot/protocol/cli';
import { createFakeAgentServer, fakeSnapshotManifest, fakeSnapshotResult, pairFakeAgent, type FakeCommandHandler } from '../testing.ts';
import { createConductorProgram, type CliCommand } from './args.ts';
import { runCli, type CliIo } from './main.ts';

const MAC = '52:54:00:0a:0b:0c';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });
const dir = mkdtempSync(join(tmpdir(), 'ingot-cli-snapshot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function parse(...argv: string[]): Promise<{ status: number; out: string; err: string; started: CliCommand[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const started: CliCommand[] = [];
  const program = createConductorProgram({ version: '1.0.0', run: async (command) => { started.push(command); }, write: { out: (t) => void out.push(t), err: (t) => void err.push(t) } });
  const status = await runProgram(program, argv, { name: 'ingot-conductor', err: (t) => void err.push(t) });
  return { status, out: out.join(''), err: err.join(''), started };
}

function capture() {
  const lines: string[] = [];
  const errors: string[] = [];
  const writes: string[] = [];
  const io: CliIo = {
    out: (line) => lines.push(line), err: (line) => errors.push(line), write: (text) => writes.push(text),
    logStream: new Writable({ write(_chunk, _enc, done) { done(); } }),
  };
  const url = async () => {
    for (;;) {
      const found = [...lines, ...errors].map((l) => /^listening on (\S+)/.exec(l)?.[1]).find(Boolean);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { io, lines, errors, writes, url };
}

/** A WebDAV-like server: PUT stores, GET serves, DELETE removes; records each request's method and path (with its query). */
async function davServer() {
  const files = new Map<string, Buffer>();
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      requests.push(`${req.method} ${req.url}`);
      if (req.method === 'PUT') { files.set(path, Buffer.concat(chunks)); res.writeHead(201).end(); return; }
      if (req.method === 'DELETE') { res.writeHead(files.delete(path) ? 204 : 404).end(); return; }
      const file = files.get(path);
      res.writeHead(file ? 200 : 404).end(file ?? 'not found');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, files, requests };
}

/** What the agent does with an http_put target: the image PUT to `url`, the manifest to `manifest_url`. */
const putLikeTheAgent: FakeCommandHandler = async (params, context) => {
  const target = params.target as Extract<SnapshotTarget, { type: 'http_put' }>;
  const image = Buffer.alloc(3 * 1024 * 1024 + 100, 7);
  const manifest = fakeSnapshotManifest({ image: { ...fakeSnapshotManifest().image, bytes: image.length, sha256: createHash('sha256').update(image).digest('hex') } });
  context.setProgress({ stage: 'capturing', done: 32 * 1024 * 1024, total: manifest.raw.bytes, unit: 'bytes' });
  await new Promise((resolve) => setTimeout(resolve, 40));
  await fetch(target.url, { method: 'PUT', body: image });
  await fetch(target.manifest_url!, { method: 'PUT', body: JSON.stringify(manifest) });
  const result: SnapshotCaptureResult = { ...fakeSnapshotResult(target, manifest), manifest_stored: true };
  return result;
};

describe('ingot-conductor snapshot: the command line', () => {
  it('parses each store\'s options, the disk and partitions, sizes with units, and leaves secrets to the environment', async () => {
    const swift = await parse('snapshot', '--mac', MAC, '--store', 'swift', '--swift-url', 'http://127.0.0.1:8080', '--swift-account', 'AUTH_test', '--swift-user', 'test:tester',
      '--container', 'snapshots', '--object', 'node-1.img.zst', '--device', '/dev/sda', '--partitions', '1,2', '--segment-size', '128MiB', '--url-ttl', '600');
    expect(swift.status).toBe(EXIT.ok);
    expect(swift.started[0]).toMatchObject({
      kind: 'snapshot', macs: [MAC], device: '/dev/sda', partitions: [1, 2], timeoutSeconds: 3600,
      store: { kind: 'swift', url: 'http://127.0.0.1:8080', account: 'AUTH_test', user: 'test:tester', container: 'snapshots', object: 'node-1.img.zst', segmentSize: 128 * 1024 * 1024, urlTtlSeconds: 600 },
    });
    const s3 = await parse('snapshot', '--mac', MAC, '--store', 's3', '--s3-endpoint', 'http://127.0.0.1:8080', '--bucket', 'b', '--key', 'k.img.zst', '--root-device', 'serial=ABC');
    expect(s3.started[0]).toMatchObject({ kind: 'snapshot', rootDevice: { serial: 'ABC' }, store: { kind: 's3', region: 'us-east-1', bucket: 'b', key: 'k.img.zst', urlTtlSeconds: 3600 } });
    const put = await parse('snapshot', '--mac', MAC, '--store', 'put', '--put-url', 'http://127.0.0.1:8081/snapshots/n.img.zst');
    expect(put.started[0]).toMatchObject({ store: { kind: 'put', url: 'http://127.0.0.1:8081/snapshots/n.img.zst' } });
    const deploy = await parse('deploy', '--mac', MAC, '--snapshot', 'store', '--store', 's3', '--s3-endpoint', 'http://127.0.0.1:8080', '--bucket', 'b', '--key', 'k');
    expect(deploy.started[0]).toMatchObject({ kind: 'deploy', image: undefined, snapshot: { manifest: 'store', store: { kind: 's3', key: 'k' } } });
  });

  it('documents every option and the environment variables in --help', async () => {
    const help = (await parse('snapshot', '--help')).out.replace(/\s+/g, ' ');
    for (const flag of ['--mac', '--store', '--swift-url', '--swift-account', '--swift-user', '--container', '--object', '--s3-endpoint', '--s3-region', '--bucket', '--key',
      '--put-url', '--device', '--root-device', '--partitions', '--segment-size', '--url-ttl', '--timeout', '--json', '--verbose']) expect(help, flag).toContain(flag);
    for (const variable of ['INGOT_SWIFT_KEY', 'INGOT_SWIFT_TOKEN', 'INGOT_S3_ACCESS_KEY', 'INGOT_S3_SECRET_KEY']) expect(help).toContain(variable);
    expect(help).not.toContain('--collect-logs');
    expect((await parse('deploy', '--help')).out.replace(/\s+/g, ' ')).toContain('--snapshot <manifest>');
    expect((await parse('--help')).out).toContain('snapshot');
  });

  it.each([
    [['snapshot', '--mac', MAC], /^ingot-conductor snapshot: required option '--store <kind>' not specified$/],
    [['snapshot', '--mac', MAC, '--store', 'ftp'], /'--store <kind>' argument 'ftp' is invalid\. expected one of swift, s3, put, got "ftp"$/],
    [['snapshot', '--mac', MAC, '--store', 'swift'], /^ingot-conductor: --store swift needs --swift-url$/],
    [['snapshot', '--mac', MAC, '--store', 's3', '--s3-endpoint', 'http://h', '--bucket', 'b'], /^ingot-conductor: --store s3 needs --key$/],
    [['snapshot', '--mac', MAC, '--store', 'put'], /^ingot-conductor: --store put needs --put-url$/],
    [['snapshot', '--mac', MAC, '--store', 'put', '--put-url', 'ftp://h/x'], /'--put-url <url>' argument 'ftp:\/\/h\/x' is invalid\. expected an http\(s\) URL/],
    [['snapshot', '--mac', MAC, '--store', 'put', '--put-url', 'http://h/x', '--partitions', '1,1'], /'--partitions <numbers>' argument '1,1' is invalid\. expected partition numbers from 1 to 128, each once/],
    [['snapshot', '--mac', MAC, '--store', 'put', '--put-url', 'http://h/x', '--partitions', '0'], /'--partitions <numbers>' argument '0' is invalid/],
    [['snapshot', '--mac', MAC, '--store', 'put', '--put-url', 'http://h/x', '--device', 'sda'], /'--device <path>' argument 'sda' is invalid\. expected a device path such as \/dev\/sda/],
    [['snapshot', '--mac', MAC, '--store', 'put', '--put-url', 'http://h/x', '--device', '/dev/sda', '--root-device', 'serial=A'], /--device and --root-device choose the disk two ways/],
    [['snapshot', '--mac', MAC, '--store', 's3', '--s3-endpoint', 'http://h', '--bucket', 'b', '--key', 'k', '--segment-size', '1MiB'], /--segment-size must be at least 5MiB for S3/],
    [['snapshot', '--mac', MAC, '--store', 'put', '--put-url', 'http://h/x', '--segment-size', 'lots'], /'--segment-size <size>' argument 'lots' is invalid\. expected a size such as 64MiB/],
    [['snapshot', '--mac', MAC, '--store', 'put', '--put-url', 'http://h/x', '--url-ttl', '5'], /'--url-ttl <seconds>' argument '5' is invalid\. expected whole seconds, at least 10/],
    [['snapshot', '--mac', MAC, '--store', 'put', '--put-url', 'http://h/x', '--swift-key', 'secret'], /^ingot-conductor snapshot: unknown option '--swift-key'/],
    [['deploy', '--mac', MAC, '--snapshot', '/m.json', '--image-checksum', `sha256:${'a'.repeat(64)}`], /--image-checksum cannot go with --snapshot/],
    [['deploy', '--mac', MAC, '--snapshot', 'store'], /--snapshot store needs --store swift or s3/],
    [['deploy', '--mac', MAC, '--image-url', 'http://h/i', '--image-checksum', `sha256:${'a'.repeat(64)}`, '--store', 'put', '--put-url', 'http://h/x'], /--store put is for --snapshot/],
  ])('refuses %j with one line naming the flag, exit 2', async (argv, message) => {
    const { status, err, started } = await parse(...argv);
    expect(status).toBe(EXIT.usage);
    expect(started).toEqual([]);
    expect(err.trimEnd().split('\n')[0]).toMatch(message);
  });

  it('refuses to start without the store\'s secret in the environment, naming the variable (exit 2)', async () => {
    const { io, errors } = capture();
    const status = await runCli(['snapshot', '--mac', MAC, '--listen', '127.0.0.1:0', '--store', 's3', '--s3-endpoint', 'http://127.0.0.1:1', '--bucket', 'b', '--key', 'k'], io, undefined, {});
    expect(status).toBe(EXIT.usage);
    expect(errors[0]!.split('\n')[0]).toBe('ingot-conductor: S3 needs an access key: set INGOT_S3_ACCESS_KEY in the environment (secrets never go on the command line)');
  });
});

describe('ingot-conductor snapshot: a run', () => {
  it('pairs, captures with a progress bar, checks the manifest the agent stored and prints it, exit 0', async () => {
    const dav = await davServer();
    const agent = await createFakeAgentServer({ handlers: { 'snapshot.capture': putLikeTheAgent } });
    cleanups.push(() => agent.close());
    const { io, lines, writes, url } = capture();
    const run = runCli(['snapshot', '--mac', MAC, '--listen', '127.0.0.1:0', '--poll-interval', '0.01', '--store', 'put', '--put-url', `${dav.url}/snapshots/n.img.zst`, '--device', '/dev/vda'], io, undefined, {});
    const pairing = await pairFakeAgent({ apiUrl: await url(), agent, macs: [MAC] });
    await pairing.heartbeat();
    expect(await run).toBe(EXIT.ok);
    const text = lines.join('\n');
    expect(text).toContain(`snapshot of ${64 * 1024 * 1024} bytes at most to ${dav.url}/snapshots/n.img.zst: one PUT URL signed`);
    expect(text).toMatch(/captured 67108864 bytes of \/dev\/vda into 3145828 bytes \(16 frames\)/);
    expect(writes.some((w) => /^ {2}disk \[/.test(w))).toBe(true);
    // The manifest is printed at the end, as JSON.
    const printed = JSON.parse(lines.slice(lines.findIndex((l) => l.startsWith('{'))).join('\n')) as { format: string };
    expect(printed.format).toBe('ingot-snapshot/1');
    expect(dav.requests).toContain('GET /snapshots/n.img.zst.manifest.json');
    const posted = agent.requests.find((r) => (r.body as { name?: string } | undefined)?.name === 'snapshot.capture')!;
    expect((posted.body as { params: unknown }).params).toEqual({ device: '/dev/vda', target: { type: 'http_put', url: `${dav.url}/snapshots/n.img.zst`, manifest_url: `${dav.url}/snapshots/n.img.zst.manifest.json` } });
    expect(text).not.toContain(pairing.token);
  });

  it('exits 1 with one line naming the agent\'s error and abandons the upload when the capture fails; --json carries the code', async () => {
    const dav = await davServer();
    const agent = await createFakeAgentServer({ handlers: { 'snapshot.capture': () => { throw new IngotError('INGOT_SNAPSHOT_READ', { details: '/dev/vda: EIO at byte 4096' }); } } });
    cleanups.push(() => agent.close());
    const { io, lines, errors, url } = capture();
    const run = runCli(['snapshot', '--json', '--mac', MAC, '--listen', '127.0.0.1:0', '--poll-interval', '0.01', '--store', 'put', '--put-url', `${dav.url}/s/n.img.zst?sig=abc`], io, undefined, {});
    const pairing = await pairFakeAgent({ apiUrl: await url(), agent, macs: [MAC] });
    await pairing.heartbeat();
    expect(await run).toBe(EXIT.failed);
    expect(dav.requests).toEqual(['DELETE /s/n.img.zst.manifest.json?sig=abc', 'DELETE /s/n.img.zst?sig=abc']);
    const failure = errors.filter((e) => e.startsWith('ingot-conductor: node'));
    expect(failure).toHaveLength(1);
    expect(failure[0]).toContain('EIO at byte 4096');
    const result = JSON.parse(lines.at(-1)!) as { command: string; outcome: string; error: { code: string }; snapshot: unknown };
    expect(result).toMatchObject({ command: 'snapshot', outcome: 'failed', error: { code: 'INGOT_SNAPSHOT_READ' }, snapshot: null });
    // The signed URL's query never reaches what is printed.
    expect([...lines, ...errors].join('\n')).not.toContain('sig=abc');
  });
});

describe('ingot-conductor deploy --snapshot', () => {
  it('reads the manifest, deploys the image beside it as raw with its sha256 and image_info.ingot_snapshot', async () => {
    const manifest = fakeSnapshotManifest();
    const file = join(dir, 'node.img.zst.manifest.json');
    writeFileSync(file, JSON.stringify(manifest));
    const agent = await createFakeAgentServer();
    cleanups.push(() => agent.close());
    const { io, url } = capture();
    const run = runCli(['deploy', '--skip-cleaning', '--mac', MAC, '--listen', '127.0.0.1:0', '--poll-interval', '0.01', '--snapshot', file, '--image-url', 'http://127.0.0.1:9/node.img.zst'], io, undefined, {});
    const pairing = await pairFakeAgent({ apiUrl: await url(), agent, macs: [MAC] });
    await pairing.heartbeat();
    expect(await run).toBe(EXIT.ok);
    const write = agent.requests.find((r) => (r.body as { name?: string } | undefined)?.name === 'deploy.execute_deploy_step');
    expect((write?.body as { params: { step: { args: { image_info: unknown } } } }).params.step.args.image_info).toMatchObject({
      urls: ['http://127.0.0.1:9/node.img.zst'], disk_format: 'raw', os_hash_algo: 'sha256', os_hash_value: manifest.image.sha256,
      ingot_snapshot: { raw_bytes: manifest.raw.bytes, raw_sha256: manifest.raw.sha256, image_bytes: manifest.image.bytes, frames: manifest.image.frames, frame_size: manifest.image.frame_size },
    });
  });

  it('refuses a manifest that is not an Ingot snapshot\'s, before pairing, naming the file', async () => {
    const file = join(dir, 'bad.manifest.json');
    writeFileSync(file, JSON.stringify({ format: 'something-else' }));
    const { io, errors } = capture();
    const status = await runCli(['deploy', '--mac', MAC, '--listen', '127.0.0.1:0', '--snapshot', file, '--image-url', 'http://127.0.0.1:9/x'], io, undefined, {});
    expect(status).toBe(EXIT.failed);
    expect(errors.join('\n')).toContain(`--snapshot ${file} is not an ingot-snapshot/1 manifest`);
  });
});
