import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Compressor, compress as zstdCompress } from 'zstd-napi';
import { isIngotError } from '@ingot/protocol';
import { createLogger, type System } from '@ingot/agent';
// Relative import: the agent package does not export the pipeline yet.
import { writeImage, type WriteImageRequest } from '@ingot/agent/image-pipeline';
import { ImageHttpServer } from '../support/image-http-server.ts';
import { sandboxFor, sparseDiskFile } from './deploy-support.ts';
import { attachLoop, detachLoop, hasTools, loopUnavailableReason, readBytes, sh } from './loop-disks.ts';
import { prerequisite } from '../support/prerequisite.ts';

const MiB = 1024 * 1024;
const TARGET_SIZE = 64 * MiB;
const log = createLogger({ level: 'silent' });
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** 12 MiB and a ragged tail: random data, a zero run (zero-block skipping), random again. */
function makeImage(): Buffer {
  const image = Buffer.alloc(12 * MiB + 12345);
  randomBytes(3 * MiB).copy(image, 0);
  randomBytes(image.length - 9 * MiB).copy(image, 9 * MiB);
  image.write('ingot-image-head', 0);
  return image;
}

const server = new ImageHttpServer();
let work = '';
let target = '';
const image = makeImage();
const bodies: Record<'raw' | 'zstd' | 'gzip' | 'xz', Buffer> = { raw: image, zstd: zstdCompress(image), gzip: gzipSync(image), xz: Buffer.alloc(0) };
const xz = prerequisite('the xz image test', await hasTools('xz'));

function request(urls: string[], expected: string, overrides: Partial<WriteImageRequest['options']> = {}, path = target, size = TARGET_SIZE): WriteImageRequest {
  return {
    urls,
    expectedDigest: { algorithm: 'sha256', value: expected },
    target: { path, size },
    system: sandboxFor(path).system,
    log,
    options: { stallTimeoutMs: 2000, totalTimeoutMs: 30_000, retries: 3, backoff: { initialMs: 10, maxMs: 50, factor: 2 }, verifyReadback: true, ...overrides },
  };
}

async function expectFailure(promise: Promise<unknown>, code: string): Promise<Error> {
  const error = await promise.then(() => undefined, (e: unknown) => e as Error);
  expect(error, `expected ${code}`).toBeDefined();
  expect(isIngotError(error) ? error.code : String(error)).toBe(code);
  return error!;
}

/** The image as one zstd frame that does not record its size. */
function sizelessZstd(bytes: Buffer): Buffer {
  const compressor = new Compressor();
  compressor.setParameters({ contentSizeFlag: false });
  return compressor.compress(bytes);
}

/** A disk file of `size` bytes of random data: any write to it changes its digest. */
async function diskWithData(path: string, size: number): Promise<string> {
  await writeFile(path, randomBytes(size));
  return path;
}

async function expectWiped(path: string, size: number): Promise<void> {
  expect((await readBytes(path, 0, MiB)).every((b) => b === 0)).toBe(true);
  expect((await readBytes(path, size - MiB, MiB)).every((b) => b === 0)).toBe(true);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ingot-image-'));
  if (!xz.missing) {
    await writeFile(join(work, 'image.raw'), image);
    execFileSync('xz', ['-0', '-T1', '-k', join(work, 'image.raw')]);
    bodies.xz = await readFile(join(work, 'image.raw.xz'));
  }
  await server.start();
});

afterAll(async () => {
  await server.stop();
  await rm(work, { recursive: true, force: true });
});

beforeEach(async () => {
  server.reset();
  // A sparse "disk" whose last MiB holds old data, so a wipe is visible.
  target = await sparseDiskFile(work, TARGET_SIZE);
  const handle = await open(target, 'r+');
  await handle.write(Buffer.alloc(MiB, 0xaa), 0, MiB, TARGET_SIZE - MiB);
  await handle.close();
});

describe('writing an image in one streaming pass', () => {
  for (const format of ['raw', 'zstd', 'gzip', 'xz'] as const) {
    (format === 'xz' ? xz.it : it)(`writes a ${format} image to a sparse file, recognised by its magic bytes, and verifies the digest of the bytes as served`, async () => {
      server.routes.set(`/image.${format}`, { body: bodies[format] });
      const result = await writeImage(request([server.url(`/image.${format}`)], sha256(bodies[format])));
      expect(result.format).toBe(format);
      expect(result.imageBytes).toBe(image.length);
      expect(result.servedBytes).toBe(bodies[format].length);
      expect(result.digest.value).toBe(sha256(bodies[format]));
      expect(result.readbackDigest).toBe(format === 'raw' ? sha256(image) : sha256(image));
      expect(sha256(await readBytes(target, 0, image.length))).toBe(sha256(image));
    });
  }

  it('writes a zstd image that inflates more than 1000x, each read filling several slots, to the same bytes', async () => {
    const sparse = Buffer.alloc(48 * MiB);
    for (let at = 0; at < sparse.length; at += 7 * MiB) randomBytes(4096).copy(sparse, at); // a little data between long zero runs
    const body = zstdCompress(sparse);
    expect(sparse.length / body.length).toBeGreaterThan(1000);
    server.routes.set('/sparse.zst', { body });
    const result = await writeImage(request([server.url('/sparse.zst')], sha256(body)));
    expect(result.imageBytes).toBe(sparse.length);
    expect(result.readbackDigest).toBe(sha256(sparse));
    expect(sha256(await readBytes(target, 0, sparse.length))).toBe(sha256(sparse));
  });

  it('resumes a connection cut mid-stream with a Range request, and the digest carries on to the right value', async () => {
    server.routes.set('/cut.zst', { body: bodies.zstd, cutFirstAfter: 3 * MiB + 17 });
    const result = await writeImage(request([server.url('/cut.zst')], sha256(bodies.zstd)));
    expect(result.resumes).toBe(1);
    expect(result.restarts).toBe(0);
    expect(server.requests[1]?.range).toMatch(/^bytes=\d+-$/);
    expect(Number(/\d+/.exec(server.requests[1]!.range!)![0])).toBeGreaterThan(0);
    expect(sha256(await readBytes(target, 0, image.length))).toBe(sha256(image));
  });

  it('starts over from byte 0 with a fresh digest and decompressor when the server answers a Range request with 200', async () => {
    server.routes.set('/norange.gz', { body: bodies.gzip, ranges: false, cutFirstAfter: 2 * MiB });
    const result = await writeImage(request([server.url('/norange.gz')], sha256(bodies.gzip)));
    expect(result.restarts).toBe(1);
    expect(sha256(await readBytes(target, 0, image.length))).toBe(sha256(image));
  });

  it('resumes when the server closes with fewer bytes than its Content-Length announced', async () => {
    server.routes.set('/short.raw', { body: image, shortFirstBy: 1000 });
    const result = await writeImage(request([server.url('/short.raw')], sha256(image)));
    expect(result.resumes).toBe(1);
    expect(sha256(await readBytes(target, 0, image.length))).toBe(sha256(image));
  });

  it('never reports success when every response is shorter than announced, and wipes the target', async () => {
    server.routes.set('/always-short.raw', { body: image, shortAlwaysBy: 5000, ranges: false });
    await expectFailure(writeImage(request([server.url('/always-short.raw')], sha256(image), { retries: 2 })), 'INGOT_IMAGE_DOWNLOAD');
    await expectWiped(target, TARGET_SIZE);
  });

  it('fails on a checksum mismatch with a clear error and wipes the first and last MiB of the target', async () => {
    server.routes.set('/image.zst', { body: bodies.zstd });
    const error = await expectFailure(writeImage(request([server.url('/image.zst')], 'AB'.repeat(32))), 'INGOT_IMAGE_CHECKSUM');
    expect(error.message).toContain(sha256(bodies.zstd));
    await expectWiped(target, TARGET_SIZE);
  });

  it('accepts an expected digest written in uppercase', async () => {
    server.routes.set('/image.raw', { body: image });
    const result = await writeImage(request([server.url('/image.raw')], sha256(image).toUpperCase()));
    expect(result.digest.value).toBe(sha256(image));
  });

  it('fails at once on 404, not retried, with an error naming the URL without its query string, and writes nothing', async () => {
    const error = await expectFailure(writeImage(request([`${server.url('/missing.raw')}?temp_url_sig=secret`], sha256(image))), 'INGOT_IMAGE_NOT_FOUND');
    expect(isIngotError(error) && error.retryable).toBe(false);
    expect(error.message).toContain(`http://127.0.0.1:${server.port}/missing.raw`);
    expect(error.message).toContain('404');
    expect(error.message).not.toContain('secret');
    expect(server.requests).toHaveLength(1);
    expect((await readBytes(target, TARGET_SIZE - MiB, 16)).every((b) => b === 0xaa)).toBe(true);
  });

  it('fails over to the next URL when the first one answers 503', async () => {
    server.routes.set('/down.raw', { body: image, status: 503 });
    server.routes.set('/up.raw', { body: image });
    const result = await writeImage(request([server.url('/down.raw'), server.url('/up.raw')], sha256(image)));
    expect(result.url).toContain('/up.raw');
    expect(server.requests.map((r) => r.path)).toEqual(['/down.raw', '/up.raw']);
  });

  it('gives up on a stalled server after the stall timeout and its retries, and wipes what was written', async () => {
    server.routes.set('/stall.raw', { body: image, stallAt: 5 * MiB });
    await expectFailure(writeImage(request([server.url('/stall.raw')], sha256(image), { stallTimeoutMs: 300, retries: 1 })), 'INGOT_IMAGE_STALLED');
    expect(server.requests.length).toBe(2);
    await expectWiped(target, TARGET_SIZE);
  });

  it('refuses a raw image larger than the target before writing a byte', async () => {
    server.routes.set('/big.raw', { body: image });
    await expectFailure(writeImage(request([server.url('/big.raw')], sha256(image), {}, target, 8 * MiB)), 'INGOT_IMAGE_TOO_LARGE');
    expect((await readBytes(target, 0, 16)).every((b) => b === 0)).toBe(true);
  });

  it('stops a compressed image with no declared size that inflates past the end of the target without writing past it', async () => {
    // A zstd frame without Frame_Content_Size (as `zstd` writes from a pipe): only the sink can stop it.
    const body = sizelessZstd(image);
    server.routes.set('/big.zst', { body });
    await expectFailure(writeImage(request([server.url('/big.zst')], sha256(body), {}, target, 8 * MiB)), 'INGOT_IMAGE_TOO_LARGE');
    expect((await readBytes(target, 8 * MiB, 4 * MiB)).every((b) => b === 0)).toBe(true);
  });

  it.each([
    ['a zstd image whose frame header declares more than the disk holds', 'zstd', 'decompressed, as its zstd frame header says'],
    ['a raw image whose Content-Length is more than the disk holds', 'raw', 'as the raw image\'s Content-Length says'],
  ] as const)('refuses %s before the first write, naming both sizes, the disk untouched', async (_what, format, source) => {
    const small = 8 * MiB;
    const disk = await diskWithData(join(work, `untouched-${format}.img`), small);
    const before = sha256(await readFile(disk));
    server.routes.set(`/big.${format}`, { body: bodies[format] });
    const error = await expectFailure(writeImage(request([server.url(`/big.${format}`)], sha256(bodies[format]), {}, disk, small)), 'INGOT_IMAGE_TOO_LARGE');
    expect(error.message).toContain(`the image is ${image.length} bytes (12.0 MiB), ${source}, and ${disk} holds ${small} bytes (8.0 MiB); nothing was written`);
    expect(sha256(await readFile(disk))).toBe(before);
  });

  it('fails with a clear error on a corrupt zstd stream', async () => {
    const corrupt = Buffer.from(bodies.zstd);
    corrupt.fill(0xff, 4, 64); // frame header descriptor with its reserved bit set, then garbage
    server.routes.set('/corrupt.zst', { body: corrupt });
    const error = await expectFailure(writeImage(request([server.url('/corrupt.zst')], sha256(corrupt))), 'INGOT_IMAGE_FORMAT');
    expect(error.message).toMatch(/zstd stream is corrupt/);
  });

  it('fails with a clear error on a zstd stream that ends inside a frame, even when its digest matches', async () => {
    const truncated = bodies.zstd.subarray(0, bodies.zstd.length - 100);
    server.routes.set('/truncated.zst', { body: truncated });
    const error = await expectFailure(writeImage(request([server.url('/truncated.zst')], sha256(truncated))), 'INGOT_IMAGE_FORMAT');
    expect(error.message).toMatch(/ended inside a frame/);
    await expectWiped(target, TARGET_SIZE);
  });

  it('fails with a clear error when the target disappears during the write', async () => {
    server.routes.set('/slow.raw', { body: image, slowBytesPerTick: 2 * MiB });
    // Removed once the pipeline reports image bytes written, not after a guessed delay:
    // the target is then open and being written, and the rest of the image is still to come.
    let writtenWhenRemoved: number | undefined;
    let removing: Promise<void> | undefined;
    const req = request([server.url('/slow.raw')], sha256(image), { progressIntervalMs: 5 });
    req.onProgress = (progress) => {
      if (removing || progress.bytesWritten === 0) return;
      writtenWhenRemoved = progress.bytesWritten;
      removing = unlink(target);
    };
    const error = await expectFailure(writeImage(req), 'INGOT_IMAGE_WRITE');
    await removing;
    expect(writtenWhenRemoved).toBeGreaterThan(0);
    expect(writtenWhenRemoved).toBeLessThan(image.length);
    expect(error.message).toMatch(/disappeared/);
  });

  it('reports progress with totals, a rate and an ETA', async () => {
    server.routes.set('/slow.zst', { body: bodies.zstd, slowBytesPerTick: MiB });
    const seen: number[] = [];
    const req = request([server.url('/slow.zst')], sha256(bodies.zstd), { progressIntervalMs: 50 });
    req.onProgress = (p) => {
      expect(p.bytesTotal === undefined || p.bytesTotal === bodies.zstd.length).toBe(true);
      seen.push(p.bytesDone);
      if (p.bytesDone > 0 && p.bytesDone < bodies.zstd.length) expect(p.etaSeconds).toBeGreaterThanOrEqual(0);
    };
    await writeImage(req);
    expect(seen.length).toBeGreaterThan(2);
    expect(seen.at(-1)).toBe(bodies.zstd.length);
  });
});

/** 4 MiB of data, 24 MiB of zeros (whole slots), 4 MiB of data: the zero run is skipped when the target can zero it. */
function makeZeroRunImage(): Buffer {
  const zeroRun = Buffer.alloc(32 * MiB);
  randomBytes(4 * MiB).copy(zeroRun, 0);
  randomBytes(4 * MiB).copy(zeroRun, 28 * MiB);
  return zeroRun;
}

/** The real System, except that the zeroing tools report success without doing anything: a device that lies. */
function lyingZeroer(system: System): System {
  return {
    ...system,
    run: async (argv, options) => (argv[0] === 'blkdiscard' || argv[0] === 'fallocate' ? { argv, stdout: '', stderr: '', exitCode: 0 } : system.run(argv, options)),
  };
}

async function fillWith(path: string, byte: number, length: number): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.write(Buffer.alloc(length, byte), 0, length, 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

describe('skipping zero blocks only where the target provably reads back zeros', () => {
  const zeroRunImage = makeZeroRunImage();
  const zeroRunZstd = zstdCompress(zeroRunImage);

  it('punches holes for the zero run of a disk file full of stale data, and the stale data is gone', async () => {
    await fillWith(target, 0xaa, TARGET_SIZE);
    server.routes.set('/zeros.zst', { body: zeroRunZstd });
    const result = await writeImage(request([server.url('/zeros.zst')], sha256(zeroRunZstd)));
    expect(result.skippedZeroBytes).toBe(24 * MiB);
    expect(result.zeroFallbackBytes).toBe(0);
    expect(result.readbackDigest).toBe(sha256(zeroRunImage));
    expect(sha256(await readBytes(target, 0, zeroRunImage.length))).toBe(sha256(zeroRunImage));
    // The hole is real: the file now allocates less than its 64 MiB.
    expect((await stat(target)).blocks * 512).toBeLessThan(TARGET_SIZE - 16 * MiB);
  });

  it('writes every block, zero or not, where the host has no tool to zero ranges with', async () => {
    await fillWith(target, 0xaa, TARGET_SIZE);
    server.routes.set('/zeros.raw', { body: zeroRunImage });
    const toolless = { ...sandboxFor(target).system, hasTool: async () => false };
    const result = await writeImage({ ...request([server.url('/zeros.raw')], sha256(zeroRunImage), { skipZeroBlocks: 'verified' }), system: toolless });
    expect(result.skippedZeroBytes).toBe(0);
    expect(sha256(await readBytes(target, 0, zeroRunImage.length))).toBe(sha256(zeroRunImage));
  });

  it('writes zeros where a disk file claims to have punched holes but still reads back stale data', async () => {
    await fillWith(target, 0xaa, TARGET_SIZE);
    server.routes.set('/zeros.raw', { body: zeroRunImage });
    const result = await writeImage({ ...request([server.url('/zeros.raw')], sha256(zeroRunImage)), system: lyingZeroer(sandboxFor(target).system) });
    expect(result.zeroFallbackBytes).toBe(24 * MiB);
    expect(result.skippedZeroBytes).toBe(0);
    expect(sha256(await readBytes(target, 0, zeroRunImage.length))).toBe(sha256(zeroRunImage));
  });
});

const loopDevices = prerequisite('the loop-device image tests', await loopUnavailableReason());

loopDevices.describe('writing an image to a loop device', () => {
  it('writes a zstd image with O_DIRECT, reads it back, and wipes the device on a checksum mismatch', async () => {
    const backing = join(work, 'loop-backing.img');
    await writeFile(backing, '');
    await truncate(backing, TARGET_SIZE);
    const device = await attachLoop(backing, 512);
    try {
      server.routes.set('/image.zst', { body: bodies.zstd });
      const good = request([server.url('/image.zst')], sha256(bodies.zstd), {}, device);
      const result = await writeImage(good);
      expect(result.readbackDigest).toBe(sha256(image));
      expect(sha256(await readBytes(device, 0, image.length))).toBe(sha256(image));
      await expectFailure(writeImage({ ...good, expectedDigest: { algorithm: 'sha256', value: '0'.repeat(64) } }), 'INGOT_IMAGE_CHECKSUM');
      await expectWiped(device, TARGET_SIZE);
    } finally {
      await detachLoop(device);
    }
  });

  it('refuses a zstd image declaring more than the device holds before the first write: the device reads back as before', async () => {
    const small = 8 * MiB;
    const backing = await diskWithData(join(work, 'loop-untouched.img'), small);
    const device = await attachLoop(backing, 512);
    try {
      const before = sha256(await readBytes(device, 0, small));
      server.routes.set('/big.zst', { body: bodies.zstd });
      const error = await expectFailure(writeImage(request([server.url('/big.zst')], sha256(bodies.zstd), {}, device, small)), 'INGOT_IMAGE_TOO_LARGE');
      expect(error.message).toContain(`the image is ${image.length} bytes (12.0 MiB), decompressed, as its zstd frame header says, and ${device} holds ${small} bytes (8.0 MiB)`);
      await sh('blockdev', ['--flushbufs', device]);
      expect(sha256(await readBytes(device, 0, small))).toBe(before);
    } finally {
      await detachLoop(device);
    }
  });

  for (const lying of [false, true]) {
    it(lying
      ? 'writes zeros over a zero run when the device reports BLKZEROOUT done but reads back stale data'
      : 'zeros a skipped zero run with BLKZEROOUT and verifies it: stale data under it never survives', async () => {
      const backing = join(work, `loop-stale-${lying}.img`);
      await writeFile(backing, '');
      await truncate(backing, TARGET_SIZE);
      const device = await attachLoop(backing, 4096);
      try {
        await fillWith(device, 0xaa, TARGET_SIZE);
        const zeroRunImage = makeZeroRunImage();
        const body = zstdCompress(zeroRunImage);
        server.routes.set('/zeros.zst', { body });
        const real = request([server.url('/zeros.zst')], sha256(body), {}, device);
        const result = await writeImage(lying ? { ...real, system: lyingZeroer(real.system) } : real);
        expect(result.skippedZeroBytes).toBe(lying ? 0 : 24 * MiB);
        expect(result.zeroFallbackBytes).toBe(lying ? 24 * MiB : 0);
        expect(result.readbackDigest).toBe(sha256(zeroRunImage));
        // Read through a fresh descriptor after dropping the device's page cache: the disk itself holds the image.
        await sh('blockdev', ['--flushbufs', device]);
        expect(sha256(await readBytes(device, 0, zeroRunImage.length))).toBe(sha256(zeroRunImage));
        expect((await readBytes(device, zeroRunImage.length, MiB)).every((b) => b === 0xaa)).toBe(true); // past the image: untouched
      } finally {
        await detachLoop(device);
      }
    });
  }
});
