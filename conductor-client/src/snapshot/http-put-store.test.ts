import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import { fakeSnapshotManifest, fakeSnapshotResult } from '../testing/fake-snapshot.ts';
import { createHttpPutStore } from './http-put-store.ts';
import { checkedSegments } from './snapshot-store.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => { for (const cleanup of cleanups.splice(0)) await cleanup(); });

/** A WebDAV-like server on 127.0.0.1; `allowDelete: false` answers 405 as nginx without DELETE in dav_methods. */
async function dav({ allowDelete = true } = {}) {
  const files = new Map<string, string>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => { body += chunk.toString(); });
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (req.method === 'PUT') { files.set(path, body); res.writeHead(201).end(); return; }
      if (req.method === 'DELETE') { res.writeHead(!allowDelete ? 405 : files.delete(path) ? 204 : 404).end(); return; }
      res.writeHead(files.has(path) ? 200 : 404).end(files.get(path) ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, files };
}

describe('the plain HTTP PUT store', () => {
  it('hands the agent the URL and the manifest URL beside it, query kept', async () => {
    const store = createHttpPutStore({ url: 'http://127.0.0.1:9/s/n.img.zst?st=abc&e=1' });
    expect(await store.prepare(1024)).toEqual({ type: 'http_put', url: 'http://127.0.0.1:9/s/n.img.zst?st=abc&e=1', manifest_url: 'http://127.0.0.1:9/s/n.img.zst.manifest.json?st=abc&e=1' });
    expect(store.location.startsWith('http://127.0.0.1:9/s/n.img.zst?')).toBe(true);
    expect(store.location).not.toContain('abc');
  });

  it('stores the manifest itself when the agent did not, then checks it reads back', async () => {
    const server = await dav();
    const store = createHttpPutStore({ url: `${server.url}/s/n.img.zst` });
    const target = await store.prepare(1024);
    const result = { ...fakeSnapshotResult(target), manifest_stored: false };
    expect(await store.complete(result)).toEqual(result.manifest);
    expect(JSON.parse(server.files.get('/s/n.img.zst.manifest.json')!)).toEqual(result.manifest);
    expect(await store.readManifest()).toEqual(result.manifest);
  });

  it('refuses to complete when the stored manifest names another image', async () => {
    const server = await dav();
    server.files.set('/s/n.img.zst.manifest.json', JSON.stringify(fakeSnapshotManifest({ image: { ...fakeSnapshotManifest().image, sha256: 'c'.repeat(64) } })));
    const store = createHttpPutStore({ url: `${server.url}/s/n.img.zst` });
    const error = await store.complete(fakeSnapshotResult(await store.prepare(1024))).catch((e: unknown) => e);
    expect(isIngotError(error, 'INGOT_SNAPSHOT_UPLOAD')).toBe(true);
    expect(String(error)).toContain(`names image sha256 ${'c'.repeat(64)}`);
  });

  it('abandons by deleting both, and only warns when the server allows no DELETE', async () => {
    const server = await dav();
    server.files.set('/s/n.img.zst', 'partial');
    await createHttpPutStore({ url: `${server.url}/s/n.img.zst` }).abandon();
    expect(server.files.size).toBe(0);
    const strict = await dav({ allowDelete: false });
    await expect(createHttpPutStore({ url: `${strict.url}/s/n.img.zst` }).abandon()).resolves.toBeUndefined();
  });
});

describe('checkedSegments', () => {
  const target = { type: 'swift' as const, segment_urls: ['a', 'b'], segment_size: 2 * 1024 * 1024 };
  const result = fakeSnapshotResult(target);
  const refusal = (mutate: (r: typeof result) => typeof result, signed = 2) => {
    try {
      checkedSegments(mutate(structuredClone(result)), 'swift', signed);
      return 'accepted';
    } catch (error) {
      expect(isIngotError(error, 'INGOT_SNAPSHOT_UPLOAD')).toBe(true);
      return (error as Error).message;
    }
  };

  it('accepts the segments of a whole upload, in order', () => {
    expect(checkedSegments(result, 'swift', 2)).toHaveLength(2);
  });

  it('refuses another target type, a gap, more segments than URLs signed, a missing MD5 and sizes that do not add up', () => {
    expect(refusal((r) => ({ ...r, target: 's3' }))).toContain('uploaded to a s3 target, this store is swift');
    expect(refusal((r) => ({ ...r, segments: [r.segments[1]!] }))).toContain('segment 0 is listed as index 1');
    expect(refusal((r) => r, 1)).toContain('lists 2 segments, only 1 URLs were signed');
    expect(refusal((r) => ({ ...r, segments: [{ ...r.segments[0]!, md5: '' }, r.segments[1]!] }))).toContain('segment 0 has no MD5');
    expect(refusal((r) => ({ ...r, segments: [r.segments[0]!, { ...r.segments[1]!, bytes: 1 }] }))).toMatch(/its segments hold \d+ bytes, the manifest says the image has \d+/);
    expect(refusal((r) => ({ ...r, segments: [] }))).toContain('lists no segment');
  });
});
