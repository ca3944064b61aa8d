/**
 * The agent's snapshot uploader (agent/src/image/pipeline/http/upload/)
 * against real stores: Debian's Swift 2.30 all-in-one through temp URLs and
 * through its S3 API with presigned URLs, and Debian's nginx with WebDAV PUT.
 * Each upload is read back and compared byte for byte; the faults (a segment
 * refused once or always, a connection cut mid-segment, an expired temp URL,
 * an abort) are made by a fault proxy in front of the store, which also
 * counts who asked for what. No signature may appear in any log line or
 * error the uploader wrote.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createSelfSignedCertificate } from '../../agent/src/tls/self-signed.ts';
import { isIngotError, type SnapshotSegment, type SnapshotTarget } from '@ingot/protocol';
import https from 'node:https';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createUploadAgent, putBuffer } from '../../agent/src/image/pipeline/http/upload/put-request.ts';
import { openSnapshotUpload, putJson, type RetryInfo, type SnapshotUpload } from '../../agent/src/image/pipeline/http/upload/snapshot-upload.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { checkNginxInstalled, startDavServer, type DavServer } from '../support/nginx-dav-server.ts';
import { prerequisite } from '../support/prerequisite.ts';
import { createRecordingLog, type RecordingLog } from '../support/recording-log.ts';
import { checkSwiftInstalled, startSwift, type SwiftServer } from '../support/swift-server.ts';

const MiB = 1024 * 1024;
const md5 = (data: Uint8Array) => createHash('md5').update(data).digest('hex');

/** Random, zero and text MiBs in turn, and an odd tail: what a compressed stream is not, but what exercises every boundary. */
function mixedBytes(size: number): Buffer {
  const out = Buffer.alloc(size);
  const text = Buffer.from('Ingot snapshot upload test line, repeated to fill a megabyte.\n');
  for (let offset = 0, block = 0; offset < size; offset += MiB, block += 1) {
    const end = Math.min(size, offset + MiB);
    if (block % 3 === 0) randomBytes(end - offset).copy(out, offset);
    else if (block % 3 === 2) for (let at = offset; at < end; at += text.length) text.copy(out, at, 0, Math.min(text.length, end - at));
  }
  return out;
}

/**
 * Writes `data` in chunks of `chunkBytes` through one scratch buffer that is
 * overwritten as soon as each write resolved (the chunk is the caller's
 * again then), finishes, and gives the segments or the error.
 */
async function upload(handle: SnapshotUpload, data: Buffer, chunkBytes = MiB + 4099, onChunk?: (written: number) => void): Promise<SnapshotSegment[]> {
  const scratch = Buffer.alloc(chunkBytes);
  for (let offset = 0; offset < data.length; offset += chunkBytes) {
    const length = data.copy(scratch, 0, offset, offset + chunkBytes);
    await handle.write(scratch.subarray(0, length));
    scratch.fill(0xa5);
    onChunk?.(offset + length);
  }
  return handle.finish();
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the upload to fail, and it succeeded');
}

/** Every signature in `urls`' queries. */
function signaturesIn(urls: string[]): string[] {
  return urls.flatMap((url) => {
    const query = new URL(url).searchParams;
    return [query.get('temp_url_sig'), query.get('X-Amz-Signature')].filter((value): value is string => Boolean(value));
  });
}

function expectNoSignature(recording: RecordingLog, urls: string[], errors: Error[] = []) {
  const signatures = signaturesIn(urls);
  expect(signatures.length).toBeGreaterThan(0);
  const written = [...recording.records.map((record) => JSON.stringify(record)), ...errors.map((error) => `${error.message} ${String(error.cause ?? '')}`)].join('\n');
  for (const signature of signatures) expect(written).not.toContain(signature);
}

const stores = prerequisite('the snapshot upload tests', checkSwiftInstalled() ?? checkNginxInstalled());

stores.describe('the snapshot uploader against Debian\'s Swift (temp URLs, S3 API) and nginx (WebDAV PUT)', () => {
  let workDir: string;
  let swift: SwiftServer;
  let dav: DavServer;
  let swiftProxy: FaultProxy;
  let davProxy: FaultProxy;
  let failed = false;

  beforeAll(async () => {
    workDir = await mkdtemp(path.join(os.tmpdir(), 'ingot-snapshot-upload-'));
    await mkdir(path.join(workDir, 'www'));
    [swift, dav] = await Promise.all([
      startSwift({ stateDir: path.join(workDir, 'swift'), log: (line) => console.log(line) }),
      startDavServer({ root: path.join(workDir, 'www'), stateDir: path.join(workDir, 'nginx') }),
    ]);
    await swift.createContainer('snaps');
    await swift.createContainer('snaps3');
    swiftProxy = await startFaultProxy({ upstream: swift.url });
    davProxy = await startFaultProxy({ upstream: dav.url });
  });

  afterAll(async () => {
    await Promise.all([swiftProxy?.stop(), davProxy?.stop(), swift?.stop(), dav?.stop()]);
    if (failed) console.log(`the stores' state and logs kept in ${workDir}`);
    else if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  const showLogsOnFailure = (recording?: RecordingLog) => onTestFailed(async () => {
    failed = true;
    if (recording) console.log(`uploader log:\n${recording.records.map((record) => JSON.stringify(record)).join('\n')}`);
    console.log(`proxy-server.log (tail):\n${await swift.readLog('proxy-server')}\nnginx error.log (tail):\n${(await dav.readErrorLog()).slice(-2000)}`);
  });

  const segmentUrls = (object: string, count: number, expires = 600) =>
    Array.from({ length: count }, (_, index) => swift.tempUrl('PUT', `snaps/${object}/seg/${String(index).padStart(6, '0')}`, expires));
  const segmentPath = (object: string, index: number) => `/v1/${swift.account}/snaps/${object}/seg/${String(index).padStart(6, '0')}`;

  /** The static large object's manifest, PUT with the admin token (a temp URL cannot: tempurl drops multipart-manifest=put), then the object read back. */
  async function assembleAndRead(object: string, segments: SnapshotSegment[]): Promise<Buffer> {
    const manifest = segments.map((segment) => ({ path: `/snaps/${object}/seg/${String(segment.index).padStart(6, '0')}`, etag: segment.etag, size_bytes: segment.bytes }));
    const put = await fetch(`${swift.url}/v1/${swift.account}/snaps/${object}?multipart-manifest=put`, { method: 'PUT', headers: { 'X-Auth-Token': swift.authToken }, body: JSON.stringify(manifest) });
    expect(put.status, await put.clone().text()).toBe(201);
    const get = await fetch(swift.tempUrl('GET', `snaps/${object}`, 60));
    expect(get.status).toBe(200);
    return Buffer.from(await get.arrayBuffer());
  }

  it('uploads 40 MiB to Swift in 4 MiB segments by temp URL, each checked by its MD5, and the static large object reads back identical', async () => {
    const recording = createRecordingLog();
    showLogsOnFailure(recording);
    const data = mixedBytes(40 * MiB + 12345);
    const urls = segmentUrls('whole', 12);
    const seen: number[] = [];
    const segments = await upload(openSnapshotUpload({ target: { type: 'swift', segment_urls: urls, segment_size: 4 * MiB }, log: recording.log, onSegment: (segment) => seen.push(segment.index) }), data);
    expect(segments.map((segment) => segment.index)).toEqual([...Array(11).keys()]);
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(11).keys()]);
    for (const segment of segments) {
      const bytes = data.subarray(segment.index * 4 * MiB, (segment.index + 1) * 4 * MiB);
      expect(segment).toEqual({ index: segment.index, bytes: bytes.length, md5: md5(bytes), sha256: createHash('sha256').update(bytes).digest('hex'), etag: md5(bytes), attempts: 1 });
    }
    expect(segments.at(-1)!.bytes).toBe(12345);
    expect((await assembleAndRead('whole', segments)).equals(data)).toBe(true);
    expectNoSignature(recording, urls);
  });

  it('uploads 40 MiB through Swift\'s S3 API in 5 MiB parts by presigned URL, and the completed multipart object reads back identical', async () => {
    const recording = createRecordingLog();
    showLogsOnFailure(recording);
    const key = 'nodes/node-1/disk.zst';
    const created = await fetch(swift.presignS3('POST', 'snaps3', key, 600, { uploads: '' }), { method: 'POST' });
    const createdXml = await created.text();
    expect(created.status, createdXml).toBe(200);
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(createdXml)![1]!;
    const urls = Array.from({ length: 10 }, (_, index) => swift.presignS3('PUT', 'snaps3', key, 600, { partNumber: String(index + 1), uploadId }));
    const data = mixedBytes(40 * MiB);
    const segments = await upload(openSnapshotUpload({ target: { type: 's3', part_urls: urls, segment_size: 5 * MiB }, log: recording.log }), data);
    expect(segments).toHaveLength(8);
    for (const segment of segments) expect(segment.etag).toBe(md5(data.subarray(segment.index * 5 * MiB, (segment.index + 1) * 5 * MiB)));
    const completion = `<CompleteMultipartUpload>${segments.map((segment) => `<Part><PartNumber>${segment.index + 1}</PartNumber><ETag>"${segment.etag}"</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
    const completed = await fetch(swift.presignS3('POST', 'snaps3', key, 600, { uploadId }), { method: 'POST', body: completion });
    expect(completed.status, await completed.clone().text()).toBe(200);
    const get = await fetch(swift.presignS3('GET', 'snaps3', key, 60));
    expect(get.status).toBe(200);
    expect(Buffer.from(await get.arrayBuffer()).equals(data)).toBe(true);
    expectNoSignature(recording, urls);
  });

  it('streams 40 MiB to nginx in one chunked PUT, stores the manifest with putJson, and both read back identical', async () => {
    const recording = createRecordingLog();
    showLogsOnFailure(recording);
    const data = mixedBytes(40 * MiB + 1);
    // nginx ignores the query; it stands for a signed URL's, which must not be logged.
    const url = `${dav.url}/images/node-1/disk.zst?temp_url_sig=nginxsecret0123456789&temp_url_expires=9999999999`;
    const manifestUrl = `${dav.url}/images/node-1/disk.json?temp_url_sig=manifestsecret0123456789&temp_url_expires=9999999999`;
    const segments = await upload(openSnapshotUpload({ target: { type: 'http_put', url, manifest_url: manifestUrl }, log: recording.log }), data, 256 * 1024 + 3);
    expect(segments).toEqual([]);
    expect((await readFile(path.join(dav.root, 'images/node-1/disk.zst'))).equals(data)).toBe(true);
    const manifest = { format: 'ingot-snapshot/1', raw: { bytes: 1, sha256: 'ab' } };
    await putJson(manifestUrl, manifest, { log: recording.log });
    const get = await fetch(`${dav.url}/images/node-1/disk.json`);
    expect(await get.json()).toEqual(manifest);
    const puts = (await dav.readAccessLog()).filter((entry) => entry.method === 'PUT');
    expect(puts.map((entry) => [entry.path, entry.status])).toEqual([['/images/node-1/disk.zst', 201], ['/images/node-1/disk.json', 201]]);
    expect(JSON.stringify(recording.records)).not.toMatch(/nginxsecret|manifestsecret/);
  });

  it('retries alone a segment Swift refused once with 503: the store saw it twice and every other segment once, and the object is complete', async () => {
    const recording = createRecordingLog();
    showLogsOnFailure(recording);
    const object = 'refused-once';
    swiftProxy.addRule({ method: 'PUT', path: segmentPath(object, 2), times: 1, action: { respond: 503 } });
    const data = mixedBytes(6 * MiB + 100);
    const urls = segmentUrls(object, 7).map((url) => swiftProxy.via(url));
    const retries: RetryInfo[] = [];
    const segments = await upload(openSnapshotUpload({ target: { type: 'swift', segment_urls: urls, segment_size: MiB }, log: recording.log, onRetry: (info) => retries.push(info) }), data);
    swiftProxy.clearRules();
    expect(retries).toEqual([{ segment: 2, attempt: 1, attempts: 5, reason: expect.stringMatching(/^HTTP 503/), waitMs: 500 }]);
    expect(segments.map((segment) => segment.attempts)).toEqual([1, 1, 2, 1, 1, 1, 1]);
    for (let index = 0; index < 7; index += 1) expect(swiftProxy.requestsFor(segmentPath(object, index)), `segment ${index}`).toHaveLength(index === 2 ? 2 : 1);
    expect((await assembleAndRead(object, segments)).equals(data)).toBe(true);
    expectNoSignature(recording, urls);
  });

  it('fails naming the segment, its URL redacted and Swift\'s last answer when a segment is refused on every attempt', async () => {
    const recording = createRecordingLog();
    showLogsOnFailure(recording);
    const object = 'refused-always';
    swiftProxy.addRule({ method: 'PUT', path: segmentPath(object, 1), action: { respond: 503, body: 'Service Unavailable: the object server is full' } });
    const urls = segmentUrls(object, 4).map((url) => swiftProxy.via(url));
    const error = await failure(upload(openSnapshotUpload({ target: { type: 'swift', segment_urls: urls, segment_size: MiB }, retries: 2, log: recording.log }), mixedBytes(4 * MiB)));
    swiftProxy.clearRules();
    expect(isIngotError(error, 'INGOT_SNAPSHOT_UPLOAD')).toBe(true);
    expect(error.message).toContain(`segment 1 (${swiftProxy.url}${segmentPath(object, 1)}?temp_url_sig=***&temp_url_expires=***)`);
    expect(error.message).toMatch(/failed 3 times; last: HTTP 503 Service Unavailable: the object server is full/);
    expect(swiftProxy.requestsFor(segmentPath(object, 1))).toHaveLength(3);
    expectNoSignature(recording, urls, [error]);
  });

  it('retries a segment whose connection was cut midway, and the object is complete', async () => {
    const recording = createRecordingLog();
    showLogsOnFailure(recording);
    const object = 'cut-once';
    swiftProxy.addRule({ method: 'PUT', path: segmentPath(object, 3), times: 1, action: { cutAfterBytes: 300_000 } });
    const data = mixedBytes(5 * MiB + 3);
    const urls = segmentUrls(object, 6).map((url) => swiftProxy.via(url));
    const retries: RetryInfo[] = [];
    const segments = await upload(openSnapshotUpload({ target: { type: 'swift', segment_urls: urls, segment_size: MiB }, log: recording.log, onRetry: (info) => retries.push(info) }), data);
    swiftProxy.clearRules();
    expect(swiftProxy.requestsFor(segmentPath(object, 3)).map((seen) => seen.outcome)).toEqual(['cut', 'forwarded']);
    expect(retries.map((info) => [info.segment, info.reason.startsWith('no answer')])).toEqual([[3, true]]);
    expect(segments[3]!.attempts).toBe(2);
    expect((await assembleAndRead(object, segments)).equals(data)).toBe(true);
    expectNoSignature(recording, urls);
  });

  it('fails at once, naming the segment, when Swift answers 401 to a temp URL that expired, and does not retry it', async () => {
    const recording = createRecordingLog();
    showLogsOnFailure(recording);
    const object = 'expired';
    const urls = segmentUrls(object, 4).map((url) => swiftProxy.via(url));
    // A real expired temp URL: its expiry one second in the past.
    urls[2] = swiftProxy.via(swift.tempUrl('PUT', `snaps/${object}/seg/000002`, -1));
    const retries: RetryInfo[] = [];
    const error = await failure(upload(openSnapshotUpload({ target: { type: 'swift', segment_urls: urls, segment_size: MiB }, log: recording.log, onRetry: (info) => retries.push(info) }), mixedBytes(4 * MiB)));
    expect(isIngotError(error, 'INGOT_SNAPSHOT_UPLOAD')).toBe(true);
    expect(error.message).toMatch(/segment 2 \(.*temp_url_sig=\*\*\*.*\) refused, not retried: HTTP 401/);
    expect(error.message).toContain('ask the conductor for new URLs');
    expect(swiftProxy.requestsFor(segmentPath(object, 2))).toHaveLength(1);
    expect(retries).toEqual([]);
    expectNoSignature(recording, urls, [error]);
  });

  it('sees Swift\'s own 401 for an expired temp URL, sent straight to Swift while a 4 MiB segment is still being sent', async () => {
    const recording = createRecordingLog();
    showLogsOnFailure(recording);
    // No proxy reading the body first: Swift answers before it read the segment, and the client must still read that answer.
    const urls = [swift.tempUrl('PUT', 'snaps/expired-direct/seg/000000', -1)];
    const error = await failure(upload(openSnapshotUpload({ target: { type: 'swift', segment_urls: urls, segment_size: 4 * MiB }, log: recording.log }), mixedBytes(4 * MiB)));
    expect(error.message).toMatch(/segment 0 \(.*\) refused, not retried: HTTP 401/);
    expectNoSignature(recording, urls, [error]);
  });

  it('fails naming the segment when the store answers 2xx with an ETag that is not the segment\'s MD5', async () => {
    const recording = createRecordingLog();
    showLogsOnFailure(recording);
    const object = 'wrong-etag';
    swiftProxy.addRule({ method: 'PUT', path: segmentPath(object, 1), action: { respond: 201, headers: { ETag: '"00000000000000000000000000000000"' } } });
    const urls = segmentUrls(object, 3).map((url) => swiftProxy.via(url));
    const error = await failure(upload(openSnapshotUpload({ target: { type: 'swift', segment_urls: urls, segment_size: MiB }, log: recording.log }), mixedBytes(3 * MiB)));
    swiftProxy.clearRules();
    expect(error.message).toMatch(/segment 1 \(.*\): the store answered ETag 0{32}, not the segment's MD5 [0-9a-f]{32}/);
    expect(swiftProxy.requestsFor(segmentPath(object, 1))).toHaveLength(1);
    expectNoSignature(recording, urls, [error]);
  });

  it('stops at once when aborted midway: writes reject, at most the 2 requests in flight reach the store, no request follows', async () => {
    const recording = createRecordingLog();
    showLogsOnFailure(recording);
    const object = 'aborted';
    const urls = segmentUrls(object, 20).map((url) => swiftProxy.via(url));
    const requestsSoFar = () => swiftProxy.requests.filter((seen) => seen.path.includes(`/snaps/${object}/`)).length;
    const controller = new AbortController();
    let atAbort = -1;
    const handle = openSnapshotUpload({
      target: { type: 'swift', segment_urls: urls, segment_size: MiB }, signal: controller.signal, log: recording.log,
      onSegment: (segment) => {
        if (segment.index !== 1) return;
        atAbort = requestsSoFar();
        controller.abort(new Error('the operator aborted the capture'));
      },
    });
    const error = await failure(upload(handle, mixedBytes(20 * MiB), 64 * 1024));
    expect(error.message).toBe('the operator aborted the capture');
    await handle.abort(new Error('again: idempotent'));
    await expect(handle.write(Buffer.alloc(10))).rejects.toThrow('the operator aborted the capture');
    // The proxy runs in this process: what a request in flight had already handed to the kernel still arrives a moment later.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const settled = requestsSoFar();
    expect(settled).toBeLessThanOrEqual(atAbort + 2);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(requestsSoFar()).toBe(settled);
    expect(settled).toBeLessThan(20);
  });

  it('fails an http_put whose connection was cut midway, naming the URL and not sending again, and nginx keeps no partial object', async () => {
    const recording = createRecordingLog();
    showLogsOnFailure(recording);
    davProxy.addRule({ method: 'PUT', path: '/images/cut/disk.zst', action: { cutAfterBytes: 3 * MiB } });
    const url = davProxy.via(`${dav.url}/images/cut/disk.zst?temp_url_sig=cutsecret0123456789&temp_url_expires=1`);
    const error = await failure(upload(openSnapshotUpload({ target: { type: 'http_put', url }, log: recording.log }), mixedBytes(8 * MiB)));
    davProxy.clearRules();
    expect(isIngotError(error, 'INGOT_SNAPSHOT_UPLOAD')).toBe(true);
    expect(error.message).toContain(`PUT ${davProxy.url}/images/cut/disk.zst?temp_url_sig=***&temp_url_expires=***`);
    expect(error.message).toMatch(/connection dropped after \d+ bytes/);
    expect(davProxy.requestsFor('/images/cut/disk.zst')).toHaveLength(1);
    expect(existsSync(path.join(dav.root, 'images/cut/disk.zst'))).toBe(false);
    expect(await readdir(path.join(dav.root, 'images')).catch(() => [])).not.toContain('cut');
    expect(`${JSON.stringify(recording.records)} ${error.message}`).not.toContain('cutsecret');
  });

  it('retries alone an S3 part refused once with 503 through presigned URLs, whose signatures survive the proxy', async () => {
    const recording = createRecordingLog();
    showLogsOnFailure(recording);
    const key = 'nodes/node-2/disk.zst';
    const created = await fetch(swift.presignS3('POST', 'snaps3', key, 600, { uploads: '' }), { method: 'POST' });
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(await created.text())![1]!;
    const urls = Array.from({ length: 3 }, (_, index) => swiftProxy.via(swift.presignS3('PUT', 'snaps3', key, 600, { partNumber: String(index + 1), uploadId })));
    swiftProxy.addRule({ method: 'PUT', path: `/snaps3/${key}`, requests: [swiftProxy.requests.length + 2], action: { respond: 503 } });
    const data = mixedBytes(12 * MiB + 5);
    const segments = await upload(openSnapshotUpload({ target: { type: 's3', part_urls: urls, segment_size: 5 * MiB }, log: recording.log }), data);
    swiftProxy.clearRules();
    expect(segments.map((segment) => segment.attempts).sort()).toEqual([1, 1, 2]);
    const completion = `<CompleteMultipartUpload>${segments.map((segment) => `<Part><PartNumber>${segment.index + 1}</PartNumber><ETag>"${segment.etag}"</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
    const completed = await fetch(swift.presignS3('POST', 'snaps3', key, 600, { uploadId }), { method: 'POST', body: completion });
    expect(completed.status, await completed.clone().text()).toBe(200);
    const get = await fetch(swift.presignS3('GET', 'snaps3', key, 60));
    expect(Buffer.from(await get.arrayBuffer()).equals(data)).toBe(true);
    expectNoSignature(recording, urls);
  });

  it('stops a streamed http_put aborted midway, and nginx keeps no partial object', async () => {
    const recording = createRecordingLog();
    showLogsOnFailure(recording);
    const controller = new AbortController();
    const handle = openSnapshotUpload({ target: { type: 'http_put', url: `${dav.url}/images/aborted/disk.zst` }, signal: controller.signal, log: recording.log });
    const error = await failure(upload(handle, mixedBytes(16 * MiB), 256 * 1024, (written) => { if (written >= 4 * MiB) controller.abort(new Error('aborted at 4 MiB')); }));
    expect(error.message).toBe('aborted at 4 MiB');
    await handle.abort(new Error('again'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(existsSync(path.join(dav.root, 'images/aborted/disk.zst'))).toBe(false);
  });

  it('refuses at once a stream longer than the URLs given can hold, saying what to give', async () => {
    const recording = createRecordingLog();
    const target: SnapshotTarget = { type: 'swift', segment_urls: segmentUrls('too-long', 2), segment_size: MiB };
    const error = await failure(upload(openSnapshotUpload({ target, log: recording.log }), mixedBytes(3 * MiB)));
    expect(error.message).toContain('the target gave 2 segment URLs of 1048576 bytes: the image needs more; give more URLs or a larger segment_size');
  });
});

describe('a store that accepts the connection and goes silent', () => {
  it('has its request destroyed once no byte moved for the stall time, as a dropped connection', async () => {
    const silent = net.createServer((socket) => { socket.on('data', () => {}); });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = new URL(`http://127.0.0.1:${(silent.address() as net.AddressInfo).port}/c/o?temp_url_sig=silentsecret`);
    const { agent, destroy } = createUploadAgent(url, { maxSockets: 1 });
    try {
      const started = Date.now();
      await expect(putBuffer(url, Buffer.alloc(1000), { agent, headers: {}, signal: new AbortController().signal, stallMs: 300 })).rejects.toThrow('no byte sent or received for 0.3 s');
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      destroy();
      silent.close();
    }
  });
});

describe('a store over https', () => {
  it('uploads to a store whose certificate the given CA vouches for, and refuses at once, without a retry, one it does not', async () => {
    // A stand-in for an https Swift: stores each PUT and answers its MD5 as the ETag, as Swift does.
    const { certPem, keyPem } = createSelfSignedCertificate({ ip: '127.0.0.1', commonName: 'store' });
    const stored = new Map<string, Buffer>();
    const server = https.createServer({ cert: certPem, key: keyPem }, (request, response) => {
      const parts: Buffer[] = [];
      request.on('data', (data: Buffer) => parts.push(data));
      request.on('end', () => {
        const body = Buffer.concat(parts);
        stored.set(request.url!.split('?')[0]!, body);
        response.writeHead(201, { ETag: md5(body) }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    const urls = [0, 1, 2].map((index) => `${base}/c/o/${index}?temp_url_sig=tlssecret${index}&temp_url_expires=1`);
    try {
      const data = mixedBytes(2 * MiB + 1);
      const recording = createRecordingLog();
      const segments = await upload(openSnapshotUpload({ target: { type: 'swift', segment_urls: urls, segment_size: MiB }, caPem: certPem, log: recording.log }), data);
      expect(segments.map((segment) => segment.bytes)).toEqual([MiB, MiB, 1]);
      expect(Buffer.concat([0, 1, 2].map((index) => stored.get(`/c/o/${index}`)!)).equals(data)).toBe(true);

      stored.clear();
      const retries: RetryInfo[] = [];
      const error = await failure(upload(openSnapshotUpload({ target: { type: 'swift', segment_urls: urls, segment_size: MiB }, log: recording.log, onRetry: (info) => retries.push(info) }), data));
      expect(error.message).toMatch(/segment 0 \(https:\/\/127\.0\.0\.1:\d+\/c\/o\/0\?temp_url_sig=\*\*\*&temp_url_expires=\*\*\*\): the store's TLS certificate was not accepted \(DEPTH_ZERO_SELF_SIGNED_CERT/);
      expect(retries).toEqual([]);
      expect(stored.size).toBe(0);
      const streamed = await failure(upload(openSnapshotUpload({ target: { type: 'http_put', url: urls[0]! }, log: recording.log, onRetry: (info) => retries.push(info) }), data));
      expect(streamed.message).toMatch(/the store's TLS certificate was not accepted/);
      expect(retries).toEqual([]);
      expect(`${JSON.stringify(recording.records)} ${error.message} ${streamed.message}`).not.toContain('tlssecret');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
