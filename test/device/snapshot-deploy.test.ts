import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { deployImage } from '@ingot/agent';
import { isIngotError, type SnapshotDeployInfo } from '@ingot/protocol';
import { compressFrames } from '../../agent/src/snapshot/compress-frames.ts';
import { ImageHttpServer } from '../support/image-http-server.ts';
import { prerequisite } from '../support/prerequisite.ts';
import { deployContext, MiB, sha256, sparseDiskFile } from './deploy-support.ts';

/**
 * Snapshots (zstd's seekable format, made by the capture's own
 * compressFrames) deployed back by the agent's real whole-disk deploy over
 * HTTP onto disk files: frames decoded in parallel, the seek table checked by
 * Range against `ingot_snapshot` before the first write, the raw digest after
 * the last, the GPT backup moved to the end of a larger disk.
 */
const sgdisk = prerequisite('the snapshot deploy tests', (() => {
  try {
    execFileSync('sgdisk', ['--version'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'sgdisk is not installed (Debian package gdisk)';
  }
})());

const DISK = 26 * MiB; // 7 frames of 4 MiB, the last one 2 MiB
const server = new ImageHttpServer();
let work = '';
let disk: Buffer = Buffer.alloc(0);
let snapshot: Buffer = Buffer.alloc(0);
let info: SnapshotDeployInfo;
/** Where each frame starts in the stream, from the seek table's compressed sizes. */
let frameOffsets: number[] = [];
let target = '';

/** A GPT disk with two partitions holding random data and zeros, as a captured disk looks. */
async function makeDisk(): Promise<Buffer> {
  const file = join(work, 'source.img');
  await writeFile(file, '');
  await truncate(file, DISK);
  execFileSync('sgdisk', ['-n', '1:2048:+8M', '-t', '1:8300', '-n', '2:0:0', '-t', '2:8300', file], { stdio: 'ignore' });
  const bytes = await readFile(file);
  randomBytes(3 * MiB).copy(bytes, 1 * MiB + 4096); // partition 1, part random
  bytes.fill(0x61, 12 * MiB, 15 * MiB); // partition 2, compressible
  randomBytes(2 * MiB).copy(bytes, 18 * MiB);
  return bytes;
}

async function makeSnapshot(raw: Buffer): Promise<{ stream: Buffer; result: Awaited<ReturnType<typeof compressFrames>> }> {
  const parts: Buffer[] = [];
  async function* input() {
    for (let at = 0; at < raw.length; at += MiB) yield raw.subarray(at, at + MiB);
  }
  const result = await compressFrames(input(), async (chunk) => { parts.push(Buffer.from(chunk)); }, { level: 3, frameSize: 4 * MiB });
  return { stream: Buffer.concat(parts), result };
}

function imageInfo(path: string, extra: Record<string, unknown> = {}, body = snapshot) {
  return {
    id: 'snapshot.zst', urls: [server.url(path)], os_hash_algo: 'sha256', os_hash_value: sha256(body),
    disk_format: 'raw', image_type: 'whole-disk', stream_raw_images: true, ingot_snapshot: info, ...extra,
  };
}

const deploy = (path: string, extra: Record<string, unknown> = {}, body = snapshot) =>
  deployImage(deployContext(target), imageInfo(path, extra, body), { md5Allowed: false, write: { retries: 3, backoff: { initialMs: 10, maxMs: 50, factor: 2 }, stallTimeoutMs: 5000 } });

async function failure(promise: Promise<unknown>): Promise<Error & { code?: string; details?: string }> {
  const error = await promise.then(() => undefined, (e: unknown) => e as Error);
  expect(error, 'the deploy should have failed').toBeDefined();
  return error as Error & { code?: string };
}

const fileDigest = async () => sha256(await readFile(target));
/** Requests for the whole object or a resume of it, not the tail reads of the seek table. */
const bodyRequests = (path: string) => server.requests.filter((r) => r.path === path && !(r.range && Number(/=(\d+)-/.exec(r.range)![1]) >= info.image_bytes - 200));

sgdisk.describe('deploying a snapshot back', () => {
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ingot-snapshot-deploy-'));
    disk = await makeDisk();
    const made = await makeSnapshot(disk);
    snapshot = made.stream;
    info = { raw_bytes: made.result.rawBytes, raw_sha256: made.result.rawSha256, image_bytes: made.result.compressedBytes, frames: made.result.frames, frame_size: made.result.frameSize };
    // Frame offsets by walking the frames' own sizes (the seek table's entries, 12 bytes each with checksums).
    const table = snapshot.subarray(snapshot.length - 9 - 12 * info.frames);
    frameOffsets = [0];
    for (let i = 0; i < info.frames; i++) frameOffsets.push(frameOffsets[i]! + table.readUInt32LE(i * 12));
    await server.start();
  });

  afterAll(async () => {
    await server.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  beforeEach(async () => {
    server.reset();
    server.routes.set('/snapshot.zst', { body: snapshot });
    target = await sparseDiskFile(work, DISK);
  });

  it('writes the disk back byte for byte, having read the seek table by Range before the body', async () => {
    expect(info.frames).toBe(7);
    await deploy('/snapshot.zst');
    expect((await readFile(target)).equals(disk)).toBe(true);
    const ranges = server.requests.map((r) => r.range);
    expect(ranges.slice(0, 2)).toEqual([`bytes=${info.image_bytes - 9}-`, `bytes=${info.image_bytes - 9 - 8 - 12 * info.frames}-`]);
    expect(ranges[2]).toBeUndefined();
  });

  it('writes it onto a larger disk and moves the GPT backup header to the new end', async () => {
    target = await sparseDiskFile(work, DISK + 14 * MiB);
    await deploy('/snapshot.zst');
    const written = await readFile(target);
    // Everything but the GPT's own structures is the captured disk's: the partitions' bytes.
    expect(written.subarray(34 * 512, DISK - 33 * 512).equals(disk.subarray(34 * 512, DISK - 33 * 512))).toBe(true);
    const lastSector = (DISK + 14 * MiB) / 512 - 1;
    expect(written.readBigUInt64LE(512 + 32)).toBe(BigInt(lastSector)); // primary header's AlternateLBA
    expect(written.subarray(lastSector * 512, lastSector * 512 + 8).toString('latin1')).toBe('EFI PART');
    const verify = execFileSync('sgdisk', ['-v', target], { encoding: 'utf8' });
    expect(verify).toContain('No problems found');
  });

  it('resumes a connection cut in the middle of the stream with a Range request and still writes the same bytes', async () => {
    // Requests 0 and 1 read the seek table; request 2 is the body, cut halfway.
    server.routes.set('/snapshot.zst', { body: snapshot, cutFirstAfter: Math.floor(snapshot.length / 2), cutRequest: 2 });
    await deploy('/snapshot.zst');
    expect((await readFile(target)).equals(disk)).toBe(true);
    const resumed = bodyRequests('/snapshot.zst').filter((r) => r.range !== undefined);
    expect(resumed.length).toBeGreaterThanOrEqual(1);
  });

  it('deploys from a server without Range support, checking the snapshot at the end of the stream instead', async () => {
    server.routes.set('/snapshot.zst', { body: snapshot, ranges: false });
    await deploy('/snapshot.zst');
    expect((await readFile(target)).equals(disk)).toBe(true);
  });

  it('refuses a corrupt frame 0 with nothing written: the disk file is unchanged', async () => {
    const corrupt = Buffer.from(snapshot);
    const at = frameOffsets[1]! - 6; // inside frame 0's last block, random data stored raw: only the checksum can tell
    corrupt[at] = corrupt[at]! ^ 0xff;
    server.routes.set('/bad0.zst', { body: corrupt });
    await writeFile(target, Buffer.alloc(DISK, 0x5a));
    const before = await fileDigest();
    const error = await failure(deploy('/bad0.zst', {}, corrupt));
    expect(isIngotError(error, 'INGOT_IMAGE_FORMAT')).toBe(true);
    expect(error.message).toContain('zstd frame 0 (at offset 0 of the stream) is corrupt');
    expect(await fileDigest()).toBe(before);
  });

  it('fails on a corrupt middle frame, naming it and its offset, and wipes what was written', async () => {
    const corrupt = Buffer.from(snapshot);
    const at = frameOffsets[5]! - 6; // inside frame 4's last block (random data, stored raw)
    corrupt[at] = corrupt[at]! ^ 0xff;
    server.routes.set('/bad4.zst', { body: corrupt });
    const error = await failure(deploy('/bad4.zst', {}, corrupt));
    expect(error.message).toContain('zstd frame 4');
    expect(error.code).toBe('INGOT_IMAGE_FORMAT');
    expect(error.message).toContain(`zstd frame 4 (at offset ${frameOffsets[4]} of the stream) is corrupt`);
    // The pipeline's wipe: no partial disk with a valid partition table is left behind.
    const written = await readFile(target);
    expect(written.subarray(0, MiB).filter((b) => b !== 0).length, 'non-zero bytes left in the first MiB').toBe(0);
  });

  for (const [field, wrong] of [['frames', 8], ['raw_bytes', DISK - 4096], ['image_bytes', 1000]] as const) {
    it(`refuses an ingot_snapshot whose ${field} disagrees with the object before the first write, naming it`, async () => {
      await writeFile(target, Buffer.alloc(DISK, 0x5a));
      const before = await fileDigest();
      const error = await failure(deploy('/snapshot.zst', { ingot_snapshot: { ...info, [field]: wrong } }));
      expect(isIngotError(error, 'INGOT_SNAPSHOT_MISMATCH')).toBe(true);
      expect(error.message).toContain(field === 'image_bytes' ? 'ingot_snapshot.image_bytes says 1000' : `ingot_snapshot.${field} says ${wrong}`);
      expect(error.message).toContain('nothing was written');
      expect(await fileDigest()).toBe(before);
      expect(server.requests.filter((r) => r.range === undefined)).toEqual([]); // the body was never asked for
    });
  }

  it('refuses a snapshot larger than the disk before anything is fetched', async () => {
    target = await sparseDiskFile(work, DISK - MiB);
    const error = await failure(deploy('/snapshot.zst'));
    expect(isIngotError(error, 'INGOT_SNAPSHOT_MISMATCH')).toBe(true);
    expect(error.message).toContain(`the snapshot holds ${DISK} bytes of disk and the target only ${DISK - MiB}`);
    expect(server.requests).toEqual([]);
  });

  it('fails when the bytes written do not have raw_sha256, known only at the end, and wipes them', async () => {
    const wrong = 'ab'.repeat(32);
    const error = await failure(deploy('/snapshot.zst', { ingot_snapshot: { ...info, raw_sha256: wrong } }));
    expect(isIngotError(error, 'INGOT_SNAPSHOT_MISMATCH')).toBe(true);
    expect(error.message).toContain(`the disk bytes written have sha256 ${info.raw_sha256}, ingot_snapshot.raw_sha256 is ${wrong}`);
    expect((await readFile(target)).subarray(0, MiB).filter((b) => b !== 0).length, 'non-zero bytes left in the first MiB').toBe(0);
  });

  it('without Range support, still refuses a disagreeing frame count once the stream is in, and wipes the disk', async () => {
    server.routes.set('/snapshot.zst', { body: snapshot, ranges: false });
    const error = await failure(deploy('/snapshot.zst', { ingot_snapshot: { ...info, frames: 9 } }));
    expect(isIngotError(error, 'INGOT_SNAPSHOT_MISMATCH')).toBe(true);
    expect(error.message).toContain('the stream held 7 frames, ingot_snapshot.frames says 9');
    expect((await readFile(target)).subarray(0, MiB).filter((b) => b !== 0).length, 'non-zero bytes left in the first MiB').toBe(0);
  });

  it('refuses an object that is no seekable stream (plain zstd) before writing', async () => {
    const { compress } = await import('zstd-napi');
    const plain = compress(disk);
    server.routes.set('/plain.zst', { body: plain });
    const error = await failure(deploy('/plain.zst', { ingot_snapshot: { ...info, image_bytes: plain.length } }, plain));
    expect(isIngotError(error, 'INGOT_SNAPSHOT_MISMATCH')).toBe(true);
    expect(error.message).toContain('does not end in a zstd seek table');
  });
});
