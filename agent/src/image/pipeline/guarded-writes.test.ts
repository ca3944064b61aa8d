import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import { createLogger } from '../../log.ts';
import { createDeviceGuard } from '../../system/device-guard.ts';
import { createRealSystem } from '../../system/real-system.ts';
import { wipeImageRemnants } from './sink/wipe.ts';
import type { WriteImageRequest } from './types.ts';
import { writeImage } from './write-image.ts';
import { writeStagedImage } from './write-staged-image.ts';

/**
 * Each layer of the pipeline that writes a disk asks the real System, whose
 * guard refuses a disk the agent was not given, whatever link names it. Disk
 * files stand in for disks here (no root needed); test/device/system-guard
 * does the same with loop devices. The image URL leads nowhere: a layer that
 * failed to refuse would get as far as the download and fail differently.
 */
const MiB = 1024 * 1024;
const log = createLogger({ level: 'silent' });
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

let dir = '';
let given = '';
let other = '';
const stale = Buffer.alloc(2 * MiB, 0xaa);

beforeAll(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), 'ingot-guarded-writes-')));
  given = join(dir, 'given.img');
  other = join(dir, 'other.img');
  await writeFile(given, stale);
  await writeFile(other, stale);
  await symlink('other.img', join(dir, 'innocent-name'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const system = () => createRealSystem({ guard: createDeviceGuard({ mode: 'sandbox', disks: [given] }) });

function request(path: string): WriteImageRequest {
  return {
    urls: ['http://127.0.0.1:1/image.qcow2'],
    expectedDigest: { algorithm: 'sha256', value: '0'.repeat(64) },
    target: { path, size: stale.length },
    system: system(),
    log,
    options: { stallTimeoutMs: 1000, totalTimeoutMs: 10_000, retries: 0, backoff: { initialMs: 1, maxMs: 1, factor: 1 }, stagingDir: dir },
  };
}

const codeOf = (promise: Promise<unknown>) => promise.then(() => 'resolved', (error: unknown) => (isIngotError(error) ? error.code : String(error)));

describe('the pipeline\'s writes, in sandbox mode, through a link to a disk file that was not given', () => {
  it('refuses the streamed image target before any request, and leaves the disk as it was', async () => {
    for (const path of [other, join(dir, 'innocent-name')]) {
      expect(await codeOf(writeImage(request(path))), path).toBe('INGOT_DEVICE_NOT_ALLOWED');
    }
    expect(sha256(await readFile(other))).toBe(sha256(stale));
  });

  it('refuses the target of a staged (qcow2) image before a byte is downloaded, and leaves no staging directory', async () => {
    expect(await codeOf(writeStagedImage(request(join(dir, 'innocent-name'))))).toBe('INGOT_DEVICE_NOT_ALLOWED');
    expect((await readdir(dir)).filter((name) => name.startsWith('ingot-image-'))).toEqual([]);
    expect(sha256(await readFile(other))).toBe(sha256(stale));
  });

  it('refuses to wipe it, and wipes the given disk through a link to it', async () => {
    expect(await codeOf(wipeImageRemnants(join(dir, 'innocent-name'), stale.length, system()))).toBe('INGOT_DEVICE_NOT_ALLOWED');
    expect(sha256(await readFile(other))).toBe(sha256(stale));
    await symlink('given.img', join(dir, 'given-link'));
    await wipeImageRemnants(join(dir, 'given-link'), stale.length, system());
    expect((await readFile(given)).every((byte) => byte === 0)).toBe(true);
  });

  it('fails a staged image whose given target does not exist before downloading, naming it', async () => {
    const missing = createRealSystem({ guard: createDeviceGuard({ mode: 'sandbox', disks: [join(dir, 'missing.img')] }) });
    expect(await codeOf(writeStagedImage({ ...request(join(dir, 'missing.img')), system: missing }))).toBe('INGOT_DEVICE_NOT_FOUND');
  });
});
