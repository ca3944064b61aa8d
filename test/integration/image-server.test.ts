import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImageServer, parseRange, type ImageServer } from '../demo/image-server.ts';

const body = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
let dir: string;
let server: ImageServer;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ingot-image-server-'));
  writeFileSync(join(dir, 'disk.img'), body);
  server = await createImageServer({ files: { '/disk.img': join(dir, 'disk.img') } });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('parseRange', () => {
  it('reads open, closed and suffix ranges, clamping the end to the size', () => {
    expect(parseRange('bytes=100-', 1000)).toEqual({ start: 100, end: 999 });
    expect(parseRange('bytes=0-9', 1000)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=990-5000', 1000)).toEqual({ start: 990, end: 999 });
    expect(parseRange('bytes=-10', 1000)).toEqual({ start: 990, end: 999 });
  });

  it('refuses ranges it cannot satisfy or read', () => {
    for (const header of ['bytes=1000-', 'bytes=5-4', 'bytes=-', 'bytes=0-1,5-6', 'items=0-1', 'bytes=-0']) expect(parseRange(header, 1000)).toBeUndefined();
  });
});

describe('the demo image server', () => {
  it('serves the whole file with its length and Accept-Ranges', async () => {
    const response = await fetch(`${server.url}/disk.img`);
    expect(response.status).toBe(200);
    expect(response.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await response.arrayBuffer()).equals(body)).toBe(true);
  });

  it('resumes from an offset with 206 and Content-Range, as the agent asks after a cut', async () => {
    const response = await fetch(`${server.url}/disk.img`, { headers: { Range: 'bytes=600-' } });
    expect(response.status).toBe(206);
    expect(response.headers.get('content-range')).toBe('bytes 600-999/1000');
    expect(Buffer.from(await response.arrayBuffer()).equals(body.subarray(600))).toBe(true);
  });

  it('answers 416 past the end, 404 for an unknown path and HEAD without a body', async () => {
    expect((await fetch(`${server.url}/disk.img`, { headers: { Range: 'bytes=2000-' } })).status).toBe(416);
    expect((await fetch(`${server.url}/other.img`)).status).toBe(404);
    const head = await fetch(`${server.url}/disk.img`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('1000');
    expect(server.log).toContain('HEAD /disk.img 200');
  });
});
