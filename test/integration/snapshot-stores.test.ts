/**
 * The conductor's snapshot stores (conductor-client/src/snapshot) against
 * Debian's real Swift 2.30 all-in-one on 127.0.0.1, through its own API
 * (static large objects, temp URLs) and through s3api (multipart, presigned
 * URLs). The tests upload the segments themselves with plain fetch PUTs,
 * exactly as the agent does (ETag = MD5 hex for Swift, Content-MD5 base64
 * for S3), then complete, read back with a Range request, and abandon.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, onTestFailed } from 'vitest';
import { isIngotError, type SnapshotCaptureResult, type SnapshotManifest, type SnapshotSegment, type SnapshotTarget } from '@ingot/protocol';
import { createS3Store, createSwiftStore, presignS3Url, type SnapshotStore } from '@ingot/conductor-client/snapshot';
import { fileURLToPath } from 'node:url';
import { createFakeAgentServer, pairFakeAgent } from '@ingot/conductor-client/testing';
import { SOURCE_NODE_ARGS } from '../support/run-source.ts';
import { startSpawned, type Spawned } from '../support/spawned.ts';
import { prerequisite } from '../support/prerequisite.ts';
import { createRecordingLog } from '../support/recording-log.ts';
import { checkSwiftInstalled, startSwift, type SwiftServer } from '../support/swift-server.ts';

const MiB = 1024 * 1024;
const md5 = (data: Uint8Array) => createHash('md5').update(data).digest();
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** A manifest as the agent would send it, for an image of these bytes (the stores only check its shape and sizes). */
function manifestFor(image: Buffer, segmentSize: number, count: number): SnapshotManifest {
  return {
    format: 'ingot-snapshot/1', created_at: new Date().toISOString(), agent_version: 'test', node_uuid: null,
    source: { device: '/dev/vda', size_bytes: 8 * MiB, logical_sector_size: 512, physical_sector_size: 512, partition_table: { type: null }, partitions: [], captured: 'disk' },
    raw: { bytes: 8 * MiB, sha256: sha256(Buffer.alloc(8 * MiB)) },
    image: { format: 'zstd-seekable', bytes: image.length, sha256: sha256(image), level: 3, frame_size: 4 * MiB, frames: 2 },
    segments: { size: segmentSize, count },
  };
}

/** What the agent does with a segmented target: each slice PUT to its URL with its MD5, the store's ETag kept. */
async function uploadLikeTheAgent(target: SnapshotTarget, image: Buffer, count = Number.POSITIVE_INFINITY): Promise<SnapshotSegment[]> {
  if (target.type === 'http_put') throw new Error('not a segmented target');
  const urls = target.type === 'swift' ? target.segment_urls : target.part_urls;
  const segments: SnapshotSegment[] = [];
  for (let index = 0; index * target.segment_size < image.length && index < count; index++) {
    const slice = image.subarray(index * target.segment_size, (index + 1) * target.segment_size);
    const digest = md5(slice);
    const headers: Record<string, string> = target.type === 'swift' ? { ETag: digest.toString('hex') } : { 'Content-MD5': digest.toString('base64') };
    const put = await fetch(urls[index]!, { method: 'PUT', body: slice, headers });
    expect(put.status, `segment ${index}: ${await put.clone().text()}`).toBe(target.type === 'swift' ? 201 : 200);
    segments.push({ index, bytes: slice.length, md5: digest.toString('hex'), sha256: sha256(slice), etag: put.headers.get('etag')?.replace(/"/g, '') ?? null, attempts: 1 });
  }
  return segments;
}

const resultOf = (target: SnapshotTarget, image: Buffer, segments: SnapshotSegment[]): SnapshotCaptureResult => ({
  manifest: manifestFor(image, target.type === 'http_put' ? 0 : target.segment_size, segments.length),
  target: target.type, segments, manifest_stored: false, duration_ms: 1,
});

/** Range-reads the completed object through the store's read URL. */
async function expectRange(store: SnapshotStore, image: Buffer, start: number, end: number): Promise<void> {
  const got = await fetch(await store.readUrl(60), { headers: { Range: `bytes=${start}-${end}` } });
  expect(got.status).toBe(206);
  expect(Buffer.from(await got.arrayBuffer()).equals(image.subarray(start, end + 1))).toBe(true);
}

const swift = prerequisite('the snapshot store tests on Swift', checkSwiftInstalled());

swift.describe('snapshot stores on Debian\'s Swift 2.30', () => {
  let server: SwiftServer;
  let stateDir: string;
  let failed = false;
  const recorded = createRecordingLog();

  beforeAll(async () => {
    stateDir = await mkdtemp(path.join(os.tmpdir(), 'ingot-snapshot-stores-'));
    server = await startSwift({ stateDir, log: (line) => console.log(line) });
    await server.createContainer('s3-snapshots');
  });

  afterAll(async () => {
    await server?.stop();
    if (failed) console.log(`Swift's configs and logs kept in ${stateDir}`);
    else if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  const showLogsOnFailure = () => onTestFailed(async () => {
    failed = true;
    console.log(`proxy-server.log (tail):\n${await server.readLog('proxy-server')}`);
  });

  const swiftStore = (object: string, extra: Partial<Parameters<typeof createSwiftStore>[0]> = {}) => createSwiftStore({
    proxyUrl: server.url, account: server.account, auth: { user: server.user, key: server.key }, container: 'snapshots', object,
    segmentSize: MiB, log: recorded.log, ...extra,
  });

  const listing = async (container: string, prefix: string) => {
    const got = await fetch(`${server.url}/v1/${server.account}/${container}?format=json&prefix=${encodeURIComponent(prefix)}`, { headers: { 'X-Auth-Token': server.authToken } });
    return got.status === 200 ? (await got.json() as Array<{ name: string; bytes: number }>) : [];
  };

  swift.it('Swift: signs enough segment URLs, completes a static large object Swift checked, and serves it by Range through a temp URL', async () => {
    showLogsOnFailure();
    const store = swiftStore('nodes/node-1/disk.img.zst');
    const target = await store.prepare(8 * MiB);
    expect(target.type).toBe('swift');
    if (target.type !== 'swift') return;
    expect(target.segment_size).toBe(MiB);
    // 8 MiB of raw disk may compress to a little more than 8 MiB: 9 segments of 1 MiB.
    expect(target.segment_urls).toHaveLength(9);
    expect(target.segment_urls[3]).toContain('/v1/AUTH_test/snapshots_segments/nodes/node-1/disk.img.zst.segments/00000003?temp_url_sig=');
    const image = randomBytes(2 * MiB + 12345);
    const segments = await uploadLikeTheAgent(target, image);
    expect(segments).toHaveLength(3);
    const result = resultOf(target, image, segments);
    expect(await store.complete(result)).toEqual(result.manifest);

    const head = await fetch(await store.readUrl(60), { method: 'HEAD' });
    expect(head.headers.get('x-static-large-object')).toBe('True');
    expect(Number(head.headers.get('content-length'))).toBe(image.length);
    await expectRange(store, image, MiB - 10, MiB + 10);
    await expectRange(store, image, image.length - 100, image.length - 1);
    expect(await store.readManifest()).toEqual(result.manifest);
    // The manifest sits beside the object.
    expect((await listing('snapshots', 'nodes/node-1/')).map((entry) => entry.name)).toEqual(['nodes/node-1/disk.img.zst', 'nodes/node-1/disk.img.zst.manifest.json']);
  });

  swift.it('Swift: more segments than one manifest may list are completed as nested manifests, which Swift serves as one object', async () => {
    showLogsOnFailure();
    const store = swiftStore('nodes/node-nested/disk.img.zst', { maxManifestSegments: 2 });
    const target = await store.prepare(8 * MiB);
    const image = randomBytes(4 * MiB + 777);
    const segments = await uploadLikeTheAgent(target, image);
    expect(segments).toHaveLength(5);
    const result = resultOf(target, image, segments);
    expect(await store.complete(result)).toEqual(result.manifest);
    // Three sub-manifests (2 + 2 + 1 segments) beside the segments; the object is their concatenation.
    expect((await listing('snapshots_segments', 'nodes/node-nested/')).map((entry) => entry.name).filter((name) => name.includes('/manifest-'))).toHaveLength(3);
    const got = Buffer.from(await (await fetch(await store.readUrl(60))).arrayBuffer());
    expect(got.equals(image)).toBe(true);
    await expectRange(store, image, 2 * MiB - 5, 3 * MiB + 5);
  });

  swift.it('Swift: refuses to complete when a segment\'s etag is not what was stored, leaving no object, and abandon deletes every segment', async () => {
    showLogsOnFailure();
    const store = swiftStore('nodes/node-2/disk.img.zst', { auth: { token: server.authToken }, tempUrlKey: server.tempUrlKey });
    const target = await store.prepare(4 * MiB);
    const image = randomBytes(2 * MiB + 1);
    const segments = await uploadLikeTheAgent(target, image);
    const wrong = segments.map((segment, index) => (index === 1 ? { ...segment, etag: null, md5: 'f'.repeat(32) } : segment));
    const refused = await store.complete(resultOf(target, image, wrong)).catch((error: unknown) => error);
    expect(isIngotError(refused, 'INGOT_SNAPSHOT_UPLOAD')).toBe(true);
    expect((refused as Error).message).toMatch(/static large object's manifest.*HTTP 400.*Etag Mismatch/i);
    expect((await fetch(await store.readUrl(60))).status).toBe(404);

    expect(await listing('snapshots_segments', 'nodes/node-2/')).toHaveLength(3);
    await store.abandon();
    expect(await listing('snapshots_segments', 'nodes/node-2/')).toEqual([]);
    // Again: nothing left, nothing thrown.
    await store.abandon();
  });

  swift.it('Swift: a segment URL past its TTL is refused with 401', async () => {
    showLogsOnFailure();
    const store = swiftStore('nodes/node-3/disk.img.zst', { urlTtlSeconds: 1 });
    const target = await store.prepare(MiB);
    if (target.type !== 'swift') throw new Error('not swift');
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const put = await fetch(target.segment_urls[0]!, { method: 'PUT', body: 'late' });
    expect(put.status).toBe(401);
  });

  swift.it('S3: starts a multipart upload, completes it with the parts\' ETags, serves it by Range through a presigned URL, and aborts another', async () => {
    showLogsOnFailure();
    const s3 = (key: string) => createS3Store({ ...server.s3, bucket: 's3-snapshots', key, segmentSize: 5 * MiB, log: recorded.log });
    const store = s3('nodes/node-4/disk.img.zst');
    const target = await store.prepare(6 * MiB);
    if (target.type !== 's3') throw new Error('not s3');
    expect(target.segment_size).toBe(5 * MiB);
    expect(target.part_urls).toHaveLength(2);
    const image = randomBytes(6 * MiB + 3);
    const segments = await uploadLikeTheAgent(target, image);
    const result = resultOf(target, image, segments);
    expect(await store.complete(result)).toEqual(result.manifest);
    await expectRange(store, image, 5 * MiB - 4, 5 * MiB + 4);
    expect(await store.readManifest()).toEqual(result.manifest);

    const abandoned = s3('nodes/node-5/disk.img.zst');
    const second = await abandoned.prepare(6 * MiB);
    if (second.type !== 's3') throw new Error('not s3');
    await uploadLikeTheAgent(second, image, 1);
    const uploadId = new URL(second.part_urls[0]!).searchParams.get('uploadId')!;
    await abandoned.abandon();
    // The upload and its parts are gone: ListParts knows no such upload, and no object appeared.
    const parts = await fetch(presignS3Url(server.s3, { method: 'GET', endpoint: server.url, path: '/s3-snapshots/nodes/node-5/disk.img.zst', query: { uploadId }, expiresSeconds: 60 }));
    expect(parts.status).toBe(404);
    expect(await parts.text()).toContain('NoSuchUpload');
    expect((await fetch(await abandoned.readUrl(60))).status).toBe(404);
  });

  swift.it('S3: a part URL past its TTL is refused with 403', async () => {
    showLogsOnFailure();
    const store = createS3Store({ ...server.s3, bucket: 's3-snapshots', key: 'nodes/node-6/disk.img.zst', urlTtlSeconds: 1, log: recorded.log });
    const target = await store.prepare(MiB);
    if (target.type !== 's3') throw new Error('not s3');
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const put = await fetch(target.part_urls[0]!, { method: 'PUT', body: 'late' });
    expect(put.status).toBe(403);
    await store.abandon();
  });

  swift.it('ingot-conductor snapshot --store swift completes what a (fake) agent uploaded, and deploy --snapshot store hands the agent a temp URL that serves it', async () => {
    showLogsOnFailure();
    const MAC = '52:54:00:0a:0b:0d';
    const image = randomBytes(2 * MiB + 777);
    // The fake agent does what the real one will with a swift target: each segment PUT with its MD5 as ETag.
    const agent = await createFakeAgentServer({
      handlers: {
        'snapshot.capture': async (params) => {
          const target = params.target as SnapshotTarget;
          const segments = await uploadLikeTheAgent(target, image);
          return { ...resultOf(target, image, segments), manifest: { ...manifestFor(image, MiB, segments.length), node_uuid: null } };
        },
      },
    });
    const root = path.resolve(fileURLToPath(import.meta.url), '../../..');
    // The conductor's own process, as an operator runs it: the key in its environment, never in argv.
    const conductor = (...args: string[]): Spawned => startSpawned(process.execPath, [...SOURCE_NODE_ARGS, path.join(root, 'conductor-client/src/cli/main.ts'), ...args],
      { cwd: root, env: { ...process.env, FORCE_COLOR: '0', INGOT_SWIFT_KEY: server.key } });
    const listening = async (run: Spawned, where: 'stdout' | 'stderr') => {
      for (const until = Date.now() + 60_000; ;) {
        const found = /^listening on (\S+)/m.exec(run[where]())?.[1];
        if (found) return found;
        if (Date.now() > until || run.child.exitCode !== null) throw new Error(`the conductor did not listen:\n${run.stdout()}\n${run.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const store = ['--swift-url', server.url, '--swift-account', server.account, '--swift-user', server.user, '--container', 'snapshots', '--object', 'cli/node.img.zst'];
    try {
      const snapshot = conductor('snapshot', '--json', '--mac', MAC, '--listen', '127.0.0.1:0', '--poll-interval', '0.05', '--store', 'swift', ...store, '--segment-size', '1MiB');
      await (await pairFakeAgent({ apiUrl: await listening(snapshot, 'stderr'), agent, macs: [MAC] })).heartbeat();
      expect(await snapshot.exited, snapshot.stderr()).toBe(0);
      const result = JSON.parse(snapshot.stdout()) as { outcome: string; snapshot: { location: string; segments: number; manifest: { image: { sha256: string } } } };
      expect(result).toMatchObject({ outcome: 'succeeded', snapshot: { location: `${server.url}/v1/${server.account}/snapshots/cli/node.img.zst`, segments: 3, manifest: { image: { sha256: sha256(image) } } } });
      expect(`${snapshot.stdout()}${snapshot.stderr()}`).not.toMatch(/temp_url_sig=[0-9a-f]/);
      expect(`${snapshot.stdout()}${snapshot.stderr()}`).not.toContain(server.key);

      const deploy = conductor('deploy', '--skip-cleaning', '--mac', MAC, '--listen', '127.0.0.1:0', '--poll-interval', '0.05', '--snapshot', 'store', '--store', 'swift', ...store);
      await (await pairFakeAgent({ apiUrl: await listening(deploy, 'stdout'), agent, macs: [MAC] })).heartbeat();
      expect(await deploy.exited, deploy.stderr()).toBe(0);
      const write = agent.requests.find((r) => (r.body as { name?: string } | undefined)?.name === 'deploy.execute_deploy_step');
      const info = (write?.body as { params: { step: { args: { image_info: { urls: string[]; os_hash_value: string; ingot_snapshot: { image_bytes: number } } } } } }).params.step.args.image_info;
      expect(info.os_hash_value).toBe(sha256(image));
      expect(info.ingot_snapshot.image_bytes).toBe(image.length);
      // The URL the agent got serves the object, Range included.
      const got = await fetch(info.urls[0]!, { headers: { Range: 'bytes=1048570-1048580' } });
      expect(got.status).toBe(206);
      expect(Buffer.from(await got.arrayBuffer()).equals(image.subarray(1048570, 1048581))).toBe(true);
    } finally {
      await agent.close();
    }
  });

  swift.it('never writes a signature or a token into a log line', () => {
    const text = JSON.stringify(recorded.records);
    // The stores did log their URLs (redacted): the check below is not vacuous.
    expect(text).toContain('temp_url_sig=***');
    expect(text).toContain('X-Amz-Signature=***');
    expect(text).not.toMatch(/temp_url_sig=[0-9a-f]/);
    expect(text).not.toMatch(/X-Amz-Signature=[0-9a-f]/i);
    expect(text).not.toContain(server.authToken);
    expect(text).not.toContain(server.tempUrlKey);
  });
});
