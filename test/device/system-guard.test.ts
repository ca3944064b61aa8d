import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readlink, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import { createDeviceGuard, createRealSystem, type System } from '@ingot/agent';
import { wipeImageRemnants, writeImage } from '@ingot/agent/image-pipeline';
import { ImageHttpServer } from '../support/image-http-server.ts';
import { log, MiB, sha256 } from './deploy-support.ts';
import { attachLoop, detachLoop, loopUnavailableReason, readBytes, sh } from './loop-disks.ts';

/**
 * In sandbox mode the real System refuses every disk it was not given, by
 * whatever name it reaches it: a symlink in /tmp (or a /dev/disk/by-* link,
 * where udev makes them for loop devices), a chain of links, or a block
 * device node made outside /dev. Two loop devices: one given, one not, whose
 * digest must not change whatever the agent is asked to do with it.
 */
const SIZE = 16 * MiB;
const loopReason = await loopUnavailableReason();
if (loopReason) console.warn(`skipping the device guard's loop-device test: ${loopReason}`);

let work = '';
let givenDisk = '';
let otherDisk = '';
/** Names that lead to the disk that was not given. */
const otherNames: string[] = [];
/** Names that lead to the given disk. */
const givenNames: string[] = [];
let system: System;
const server = new ImageHttpServer();
const image = randomBytes(4 * MiB + 512);

const digest = async (device: string) => {
  await sh('blockdev', ['--flushbufs', device]); // the disk itself, not what the page cache remembers
  return sha256(await readBytes(device, 0, SIZE));
};
const codeOf = (promise: Promise<unknown>) => promise.then(() => 'resolved', (error: unknown) => (isIngotError(error) ? error.code : String(error)));

/** The /dev/disk/by-* links udev made for `device`, on machines that run udev (loop devices get by-loop-ref and by-loop-inode). */
async function udevLinksTo(device: string): Promise<string[]> {
  const found: string[] = [];
  const kinds = await readdir('/dev/disk').catch(() => [] as string[]);
  for (const kind of kinds.filter((name) => name.startsWith('by-'))) {
    for (const name of await readdir(`/dev/disk/${kind}`).catch(() => [] as string[])) {
      const link = `/dev/disk/${kind}/${name}`;
      const target = await readlink(link).catch(() => undefined);
      if (target !== undefined && resolve(`/dev/disk/${kind}`, target) === device) found.push(link);
    }
  }
  return found;
}

describe.skipIf(loopReason !== null)('the device guard on loop devices, in sandbox mode', () => {
  beforeAll(async () => {
    work = await realpath(await mkdtemp(join(tmpdir(), 'ingot-system-guard-')));
    const attach = async (name: string) => {
      const backing = join(work, `${name}.img`);
      await writeFile(backing, randomBytes(SIZE));
      return attachLoop(backing, 512);
    };
    givenDisk = await attach('given');
    otherDisk = await attach('other');
    await mkdir(join(work, 'by-id'));
    await symlink(otherDisk, join(work, 'by-id', 'other'));
    await symlink('by-id/other', join(work, 'innocent')); // a chain, the last link relative
    await symlink(givenDisk, join(work, 'by-id', 'given'));
    // The same disk as a node outside /dev: only its being a block device gives it away.
    const [major, minor] = (await sh('stat', ['--format', '%t %T', otherDisk])).stdout.trim().split(' ').map((hex) => String(parseInt(hex, 16)));
    await sh('mknod', [join(work, 'other-node'), 'b', major!, minor!]);
    otherNames.push(join(work, 'by-id', 'other'), join(work, 'innocent'), join(work, 'other-node'), ...(await udevLinksTo(otherDisk)));
    givenNames.push(join(work, 'by-id', 'given'));
    system = createRealSystem({ guard: createDeviceGuard({ mode: 'sandbox', disks: [givenDisk] }), log });
    server.routes.set('/image.raw', { body: image });
    await server.start();
  });

  afterAll(async () => {
    await server.stop();
    if (givenDisk) await detachLoop(givenDisk);
    if (otherDisk) await detachLoop(otherDisk);
    await rm(work, { recursive: true, force: true });
  });

  let before = '';
  beforeEach(async () => {
    before = await digest(otherDisk);
    server.requests.length = 0;
  });

  it('refuses a tool (dd) a name that leads to the disk it was not given, and runs it through a link to the given disk', async () => {
    for (const name of otherNames) {
      const result = codeOf(system.run(['dd', 'if=/dev/zero', `of=${name}`, 'bs=4096', 'count=1', 'conv=notrunc,fsync']));
      expect(await result, name).toBe('INGOT_DEVICE_NOT_ALLOWED');
    }
    expect(await digest(otherDisk)).toBe(before);
    await system.run(['dd', 'if=/dev/zero', `of=${givenNames[0]}`, 'bs=4096', 'count=1', 'conv=notrunc,fsync']);
    await sh('blockdev', ['--flushbufs', givenDisk]);
    expect((await readBytes(givenDisk, 0, 4096)).every((byte) => byte === 0)).toBe(true);
  });

  it('refuses an image target that leads to the disk it was not given before any request, and writes one through a link to the given disk', async () => {
    const request = (path: string) => ({
      urls: [server.url('/image.raw')],
      expectedDigest: { algorithm: 'sha256' as const, value: sha256(image) },
      target: { path, size: SIZE },
      system,
      log,
      options: { stallTimeoutMs: 2000, totalTimeoutMs: 30_000, retries: 1, backoff: { initialMs: 10, maxMs: 10, factor: 1 }, verifyReadback: true },
    });
    for (const name of otherNames) expect(await codeOf(writeImage(request(name))), name).toBe('INGOT_DEVICE_NOT_ALLOWED');
    expect(server.requests).toEqual([]);
    expect(await digest(otherDisk)).toBe(before);
    const written = await writeImage(request(givenNames[0]!));
    expect(written.readbackDigest).toBe(sha256(image));
    await sh('blockdev', ['--flushbufs', givenDisk]);
    expect(sha256(await readBytes(givenDisk, 0, image.length))).toBe(sha256(image));
  });

  it('refuses to zero or wipe the disk it was not given, by any name, and zeros the given one through a link', async () => {
    for (const name of otherNames) {
      expect(await codeOf(system.zeroRange(name, 0, MiB)), name).toBe('INGOT_DEVICE_NOT_ALLOWED');
      expect(await codeOf(wipeImageRemnants(name, SIZE, system)), name).toBe('INGOT_DEVICE_NOT_ALLOWED');
      expect(await codeOf(system.writeRange(name, 0, Buffer.alloc(512))), name).toBe('INGOT_DEVICE_NOT_ALLOWED');
    }
    expect(await digest(otherDisk)).toBe(before);
    await system.zeroRange(givenNames[0]!, SIZE - MiB, MiB);
    await sh('blockdev', ['--flushbufs', givenDisk]);
    expect((await readBytes(givenDisk, SIZE - MiB, MiB)).every((byte) => byte === 0)).toBe(true);
  });

  it('refuses the disk it was not given even when the given disk is named by a link to it', async () => {
    const byLink = createRealSystem({ guard: createDeviceGuard({ mode: 'sandbox', disks: [givenNames[0]!] }), log });
    expect(await codeOf(byLink.zeroRange(givenDisk, 0, 4096))).toBe('resolved');
    for (const name of [otherDisk, ...otherNames]) expect(await codeOf(byLink.zeroRange(name, 0, 4096)), name).toBe('INGOT_DEVICE_NOT_ALLOWED');
    expect(await digest(otherDisk)).toBe(before);
  });
});
