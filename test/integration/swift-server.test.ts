/**
 * The object store the snapshot work (issue 13) uploads to: Debian's real
 * Swift 2.30 all-in-one on 127.0.0.1 (test/support/swift-server.ts). Proves
 * each path the agent will take: temp URLs (and their refusals), a static
 * large object whose segment etags Swift checks, and an S3 multipart upload
 * through s3api with presigned URLs only.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, onTestFailed } from 'vitest';
import { prerequisite } from '../support/prerequisite.ts';
import { checkSwiftInstalled, startSwift, type SwiftServer } from '../support/swift-server.ts';
import { presignS3Url } from '@ingot/conductor-client/snapshot';

const md5 = (data: Uint8Array) => createHash('md5').update(data).digest('hex');

// The signing's published test vectors: conductor-client/src/snapshot/signing.test.ts.
const swift = prerequisite('the Swift object-store tests', checkSwiftInstalled());

swift.describe('Debian\'s Swift 2.30 all-in-one on 127.0.0.1', () => {
  let server: SwiftServer;
  let stateDir: string;
  let failed = false;

  beforeAll(async () => {
    stateDir = await mkdtemp(path.join(os.tmpdir(), 'ingot-swift-'));
    server = await startSwift({ stateDir, log: (line) => console.log(line) });
    await server.createContainer('snapshots');
  });

  afterAll(async () => {
    await server?.stop();
    if (failed) console.log(`Swift's configs and logs kept in ${stateDir}`);
    else if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  const showLogsOnFailure = () => onTestFailed(async () => {
    failed = true;
    console.log(`proxy-server.log (tail):\n${await server.readLog('proxy-server')}\nobject-server.log (tail):\n${await server.readLog('object-server')}`);
  });

  it('stores an object PUT through a temp URL and serves it back through another', async () => {
    showLogsOnFailure();
    const body = randomBytes(64 * 1024);
    const put = await fetch(server.tempUrl('PUT', 'snapshots/plain.bin', 60), { method: 'PUT', body });
    expect(put.status).toBe(201);
    expect(put.headers.get('etag')).toBe(md5(body));
    const get = await fetch(server.tempUrl('GET', 'snapshots/plain.bin', 60));
    expect(get.status).toBe(200);
    expect(Buffer.from(await get.arrayBuffer()).equals(body)).toBe(true);
  });

  it('refuses a temp URL whose signature is wrong, or which is for another method, with 401', async () => {
    showLogsOnFailure();
    const good = new URL(server.tempUrl('GET', 'snapshots/plain.bin', 60));
    const signature = good.searchParams.get('temp_url_sig')!;
    good.searchParams.set('temp_url_sig', `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`);
    expect((await fetch(good)).status).toBe(401);
    // A GET URL does not allow a PUT: nothing is overwritten.
    const put = await fetch(server.tempUrl('GET', 'snapshots/plain.bin', 60), { method: 'PUT', body: 'overwritten' });
    expect(put.status).toBe(401);
    const unsigned = await fetch(`${server.url}/v1/${server.account}/snapshots/plain.bin`);
    expect(unsigned.status).toBe(401);
  });

  it('refuses a temp URL once it has expired, with 401', async () => {
    showLogsOnFailure();
    const url = server.tempUrl('GET', 'snapshots/plain.bin', 1);
    expect((await fetch(url)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect((await fetch(url)).status).toBe(401);
  });

  /** Two segments PUT by temp URL, each checked against its MD5; their manifest entries. */
  async function putSegments(object: string, segments: Buffer[]) {
    const manifest = [];
    for (const [index, segment] of segments.entries()) {
      const name = `snapshots/${object}/segments/${String(index).padStart(8, '0')}`;
      const put = await fetch(server.tempUrl('PUT', name, 60), { method: 'PUT', body: segment });
      expect(put.status).toBe(201);
      expect(put.headers.get('etag')).toBe(md5(segment));
      manifest.push({ path: `/${name}`, etag: put.headers.get('etag')!, size_bytes: segment.length });
    }
    return manifest;
  }

  const putManifest = (object: string, manifest: unknown) => fetch(
    `${server.url}/v1/${server.account}/snapshots/${object}?multipart-manifest=put`,
    { method: 'PUT', headers: { 'X-Auth-Token': server.authToken }, body: JSON.stringify(manifest) },
  );

  it('assembles a static large object from segments PUT by temp URL, checking each segment\'s etag', async () => {
    showLogsOnFailure();
    const segments = [randomBytes(300 * 1024), randomBytes(123 * 1024 + 7)];
    const manifest = await putSegments('disk.img', segments);

    // A manifest naming a wrong etag is refused, and no object appears.
    const refused = await putManifest('disk.img', [manifest[0], { ...manifest[1], etag: md5(Buffer.from('not this segment')) }]);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toMatch(/Etag Mismatch/i);
    expect((await fetch(server.tempUrl('GET', 'snapshots/disk.img', 60))).status).toBe(404);

    const put = await putManifest('disk.img', manifest);
    expect(put.status, await put.clone().text()).toBe(201);
    const get = await fetch(server.tempUrl('GET', 'snapshots/disk.img', 60));
    expect(get.status).toBe(200);
    expect(get.headers.get('x-static-large-object')).toBe('True');
    expect(Buffer.from(await get.arrayBuffer()).equals(Buffer.concat(segments))).toBe(true);
  });

  it('stores a manifest PUT through a temp URL as a plain object: Swift 2.30\'s tempurl drops ?multipart-manifest=put', async () => {
    showLogsOnFailure();
    // What the snapshot upload must not rely on: tempurl rewrites the query string
    // to its own parameters, so the SLO middleware never sees multipart-manifest=put
    // and nothing checks the etags. The manifest has to be PUT with a token (the
    // conductor's), or the upload has to go through s3api's multipart instead.
    const manifest = await putSegments('via-temp-url.img', [randomBytes(1024), randomBytes(1024)]);
    const wrong = [{ ...manifest[0], etag: md5(Buffer.from('not this segment')) }, manifest[1]];
    const put = await fetch(`${server.tempUrl('PUT', 'snapshots/via-temp-url.img', 60)}&multipart-manifest=put`, { method: 'PUT', body: JSON.stringify(wrong) });
    expect(put.status).toBe(201);
    const get = await fetch(server.tempUrl('GET', 'snapshots/via-temp-url.img', 60));
    expect(get.headers.get('x-static-large-object')).toBeNull();
    expect(JSON.parse(await get.text())).toEqual(wrong);
  });

  it('completes an S3 multipart upload through presigned URLs alone and serves the object back byte for byte', async () => {
    showLogsOnFailure();
    // s3api keeps S3's 5 MiB minimum for every part but the last.
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(1024 * 1024 + 3)];
    const key = 'nodes/node-1/disk.img';
    const created = await fetch(server.presignS3('POST', 'snapshots', key, 60, { uploads: '' }), { method: 'POST' });
    const createdXml = await created.text();
    expect(created.status, createdXml).toBe(200);
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(createdXml)?.[1];
    expect(uploadId).toBeTruthy();

    const etags: string[] = [];
    for (const [index, part] of parts.entries()) {
      const partNumber = String(index + 1);
      const put = await fetch(server.presignS3('PUT', 'snapshots', key, 60, { partNumber, uploadId: uploadId! }), { method: 'PUT', body: part });
      expect(put.status, await put.clone().text()).toBe(200);
      expect(put.headers.get('etag')).toBe(`"${md5(part)}"`);
      etags.push(put.headers.get('etag')!);
    }

    const completion = `<CompleteMultipartUpload>${etags.map((etag, index) => `<Part><PartNumber>${index + 1}</PartNumber><ETag>${etag}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
    const completed = await fetch(server.presignS3('POST', 'snapshots', key, 60, { uploadId: uploadId! }), { method: 'POST', body: completion });
    const completedXml = await completed.text();
    expect(completed.status, completedXml).toBe(200);
    expect(completedXml).toContain('<CompleteMultipartUploadResult');
    // S3's multipart etag: the MD5 of the parts' binary MD5s, then "-<number of parts>".
    const multipartEtag = `${createHash('md5').update(Buffer.concat(parts.map((part) => createHash('md5').update(part).digest()))).digest('hex')}-${parts.length}`;
    expect(completedXml).toContain(multipartEtag);

    const get = await fetch(server.presignS3('GET', 'snapshots', key, 60));
    expect(get.status).toBe(200);
    const body = Buffer.from(await get.arrayBuffer());
    expect(body.length).toBe(parts[0]!.length + parts[1]!.length);
    expect(md5(body)).toBe(md5(Buffer.concat(parts)));
  });

  it('refuses a presigned S3 URL signed with the wrong secret, with 403', async () => {
    showLogsOnFailure();
    const forged = presignS3Url({ ...server.s3, secretKey: 'not-the-secret' }, { method: 'GET', endpoint: server.url, path: '/snapshots/nodes/node-1/disk.img', expiresSeconds: 60 });
    const response = await fetch(forged);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('SignatureDoesNotMatch');
  });
});
