import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import { createLogger } from '@ingot/agent';
import { writeImage, type WriteImageProgress, type WriteImageRequest } from '@ingot/agent/image-pipeline';
import { ImageHttpServer } from '../support/image-http-server.ts';
import { sandboxFor } from './deploy-support.ts';
import { attachLoop, detachLoop, hasTools, loopUnavailableReason, readBytes } from './loop-disks.ts';
import { prerequisite } from '../support/prerequisite.ts';

const MiB = 1024 * 1024;
const TARGET_SIZE = 32 * MiB;
const log = createLogger({ level: 'silent' });
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

const qemuImgTool = prerequisite('the qcow2 device tests', await hasTools('qemu-img'));
const loopDevices = prerequisite('the qcow2 loop-device test', await loopUnavailableReason());
const asRoot = prerequisite('the qcow2 small-tmpfs test', process.getuid?.() === 0 ? null : 'mounting a tmpfs needs root');

const server = new ImageHttpServer();
let work = '';
let staging = '';
let target = '';
/** 20 MiB: compressible text, a zero run (written as zeros over old data), random bytes. */
const image = Buffer.alloc(20 * MiB);
const files: Record<'plain' | 'compressed' | 'backed' | 'huge' | 'corrupt', Buffer> = {
  plain: Buffer.alloc(0), compressed: Buffer.alloc(0), backed: Buffer.alloc(0), huge: Buffer.alloc(0), corrupt: Buffer.alloc(0),
};

function qemuImg(...args: string[]): void {
  execFileSync('qemu-img', args, { stdio: 'pipe' });
}

function request(url: string, expected: string, path = target, size = TARGET_SIZE): WriteImageRequest {
  return {
    urls: [url],
    expectedDigest: { algorithm: 'sha256', value: expected },
    target: { path, size },
    system: sandboxFor(path).system,
    log,
    options: { stallTimeoutMs: 2000, totalTimeoutMs: 60_000, retries: 3, backoff: { initialMs: 10, maxMs: 50, factor: 2 }, stagingDir: staging, progressIntervalMs: 20 },
  };
}

async function failure(promise: Promise<unknown>, code: string): Promise<Error> {
  const error = await promise.then(() => undefined, (e: unknown) => e as Error);
  expect(error, `expected ${code}`).toBeDefined();
  expect(isIngotError(error) ? error.code : String(error)).toBe(code);
  return error!;
}

/** The whole target's digest: equal before and after proves not one byte was written. */
const targetDigest = async (path = target) => sha256(await readBytes(path, 0, TARGET_SIZE));

qemuImgTool.describe('writing a qcow2 image through a staging file and qemu-img', () => {
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ingot-qcow2-'));
    staging = join(work, 'staging');
    await mkdir(staging);
    Buffer.from(randomBytes(3 * MiB).toString('base64')).copy(image, 0, 0, 4 * MiB);
    randomBytes(6 * MiB).copy(image, 12 * MiB);
    image.write('ingot-qcow2-head', 0);
    const raw = join(work, 'image.raw');
    await writeFile(raw, image);
    const make = async (name: keyof typeof files, ...args: string[]) => {
      qemuImg(...args);
      files[name] = await readFile(join(work, `${name}.qcow2`));
    };
    await make('plain', 'convert', '-f', 'raw', '-O', 'qcow2', raw, join(work, 'plain.qcow2'));
    await make('compressed', 'convert', '-c', '-f', 'raw', '-O', 'qcow2', raw, join(work, 'compressed.qcow2'));
    await make('backed', 'create', '-f', 'qcow2', '-b', raw, '-F', 'raw', join(work, 'backed.qcow2'));
    await make('huge', 'create', '-f', 'qcow2', join(work, 'huge.qcow2'), String(TARGET_SIZE + MiB));
    // A compressed cluster overwritten with garbage: the header and tables are intact, so
    // qemu-img info passes and convert fails halfway, after it has written part of the disk.
    const corrupt = Buffer.from(files.compressed);
    corrupt.fill(0xff, MiB, MiB + 64 * 1024); // within the compressed text clusters, past the header and tables
    files.corrupt = corrupt;
    await server.start();
  });

  afterAll(async () => {
    await server.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  beforeEach(async () => {
    server.reset();
    for (const [name, body] of Object.entries(files)) server.routes.set(`/${name}.qcow2`, { body });
    target = join(work, `disk-${randomBytes(4).toString('hex')}.img`);
    // Old data everywhere: the image's zero run must overwrite it, and an untouched disk is recognisable.
    await writeFile(target, Buffer.alloc(TARGET_SIZE, 0xaa));
  });

  it('converts a qcow2 image onto a disk file after verifying the digest of the file as served, zero runs included, and removes the staging file', async () => {
    const seen: WriteImageProgress[] = [];
    const result = await writeImage({ ...request(server.url('/plain.qcow2'), sha256(files.plain)), onProgress: (p) => seen.push(p) });
    expect(result).toMatchObject({ format: 'qcow2', imageBytes: image.length, servedBytes: files.plain.length, digest: { value: sha256(files.plain) } });
    expect(sha256(await readBytes(target, 0, image.length))).toBe(sha256(image));
    expect((await readBytes(target, image.length, MiB)).every((b) => b === 0xaa)).toBe(true); // past the virtual size: untouched
    expect(await readdir(staging)).toEqual([]);
    const converting = seen.filter((p) => p.phase === 'convert');
    expect(converting.at(-1)).toMatchObject({ bytesDone: image.length, bytesTotal: image.length });
    expect(seen.some((p) => p.phase === 'download' && p.bytesTotal === files.plain.length)).toBe(true);
  });

  it('converts a qcow2 with compressed clusters', async () => {
    expect(files.compressed.length).toBeLessThan(files.plain.length);
    await writeImage(request(server.url('/compressed.qcow2'), sha256(files.compressed)));
    expect(sha256(await readBytes(target, 0, image.length))).toBe(sha256(image));
  });

  it('resumes a staging download cut mid-way with a Range request, and the digest still matches', async () => {
    // Request 0 only shows the format (qcow2 on its first bytes); request 1 is the staging download.
    server.routes.set('/cut.qcow2', { body: files.compressed, cutFirstAfter: MiB + 7, cutRequest: 1 });
    const result = await writeImage(request(server.url('/cut.qcow2'), sha256(files.compressed)));
    expect(result.resumes).toBe(1);
    expect(server.requests.map((r) => r.range)).toEqual([undefined, undefined, `bytes=${MiB + 7}-`]);
    expect(sha256(await readBytes(target, 0, image.length))).toBe(sha256(image));
  });

  it('stages a chunked qcow2 download (no Content-Length) too', async () => {
    server.routes.set('/chunked.qcow2', { body: files.compressed, chunked: true });
    const result = await writeImage(request(server.url('/chunked.qcow2'), sha256(files.compressed)));
    expect(result.servedBytes).toBe(files.compressed.length);
    expect(sha256(await readBytes(target, 0, image.length))).toBe(sha256(image));
  });

  it('refuses a wrong checksum before qemu-img runs: not one byte of the disk changes, and the staging file is gone', async () => {
    const before = await targetDigest();
    const error = await failure(writeImage(request(server.url('/plain.qcow2'), 'ab'.repeat(32))), 'INGOT_IMAGE_CHECKSUM');
    expect(error.message).toContain(sha256(files.plain));
    expect(error.message).toContain('nothing was written');
    expect(await targetDigest()).toBe(before);
    expect(await readdir(staging)).toEqual([]);
  });

  it('refuses a qcow2 with a backing file without touching the disk', async () => {
    const before = await targetDigest();
    const error = await failure(writeImage(request(server.url('/backed.qcow2'), sha256(files.backed))), 'INGOT_IMAGE_FORMAT');
    expect(error.message).toMatch(/backing file/);
    expect(await targetDigest()).toBe(before);
    expect(await readdir(staging)).toEqual([]);
  });

  it('refuses a qcow2 whose virtual size exceeds the disk without touching it', async () => {
    const before = await targetDigest();
    const error = await failure(writeImage(request(server.url('/huge.qcow2'), sha256(files.huge))), 'INGOT_IMAGE_TOO_LARGE');
    expect(error.message).toContain(String(TARGET_SIZE + MiB));
    expect(await targetDigest()).toBe(before);
  });

  it('refuses a qcow2 image declared raw by the conductor, before anything is staged or written', async () => {
    const before = await targetDigest();
    const error = await failure(writeImage({ ...request(server.url('/plain.qcow2'), sha256(files.plain)), declaredFormat: 'raw' }), 'INGOT_IMAGE_FORMAT');
    expect(error.message).toMatch(/disk_format is raw/);
    expect(await targetDigest()).toBe(before);
  });

  it('wipes the head and tail of the disk when qemu-img fails halfway through a conversion', async () => {
    const error = await failure(writeImage(request(server.url('/corrupt.qcow2'), sha256(files.corrupt))), 'INGOT_IMAGE_CONVERT');
    expect(error.message).toMatch(/qemu-img/);
    expect((await readBytes(target, 0, MiB)).every((b) => b === 0)).toBe(true);
    expect((await readBytes(target, TARGET_SIZE - MiB, MiB)).every((b) => b === 0)).toBe(true);
    expect(await readdir(staging)).toEqual([]);
  });

  asRoot.it('fails clearly, before reading the body, when the staging directory cannot hold the announced size', async () => {
    const small = join(work, 'small');
    await mkdir(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small]);
    try {
      const before = await targetDigest();
      const error = await failure(writeImage({ ...request(server.url('/plain.qcow2'), sha256(files.plain)), options: { ...request('', '').options, stagingDir: small } }), 'INGOT_IMAGE_NO_SPACE');
      expect(error.message).toMatch(new RegExp(`needs ${files.plain.length} more bytes`));
      // One request showed the format, the staging one stopped at its head: no body was read.
      expect(server.requests).toHaveLength(2);
      expect(await targetDigest()).toBe(before);
      // Without a size announced (chunked), running out of space mid-way fails the same way.
      server.routes.set('/chunked.qcow2', { body: files.plain, chunked: true });
      await failure(writeImage({ ...request(server.url('/chunked.qcow2'), sha256(files.plain)), options: { ...request('', '').options, stagingDir: small } }), 'INGOT_IMAGE_NO_SPACE');
      expect(await readdir(small)).toEqual([]);
    } finally {
      execFileSync('umount', [small]);
    }
  });

  loopDevices.it('converts a compressed qcow2 onto a loop device with O_DIRECT', async () => {
    const backing = join(work, 'loop-backing.img');
    await writeFile(backing, '');
    await truncate(backing, TARGET_SIZE);
    const handle = await open(backing, 'r+');
    await handle.write(Buffer.alloc(MiB, 0xaa), 0, MiB, 12 * MiB - MiB);
    await handle.close();
    const device = await attachLoop(backing, 512);
    try {
      const result = await writeImage(request(server.url('/compressed.qcow2'), sha256(files.compressed), device));
      expect(result.format).toBe('qcow2');
      expect(sha256(await readBytes(device, 0, image.length))).toBe(sha256(image));
    } finally {
      await detachLoop(device);
    }
  });
});
