/**
 * snapshot.capture end to end on a loop device holding a GPT disk (an ext4
 * filesystem with files, and a partition of random bytes): the real agent
 * over its HTTP API, the real O_DIRECT reads, the real zstd threads; only
 * the uploader is an in-memory one (its own branch tests it against Swift
 * and nginx). The disk is proven unchanged byte for byte and by its kernel
 * write counters, the stream is decompressed by zstd's own CLI, and the
 * seek table is parsed back.
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect } from 'vitest';
import { IngotError, type SnapshotCaptureResult } from '@ingot/protocol';
import { parseSeekTable, parseSeekTableFooter } from '@ingot/agent';
// Not a package export: the standalone test agent is left out of the build (agent/tsconfig.build.json).
import { startStandaloneTestAgent, type StandaloneTestAgent } from '../../agent/src/testing-standalone-agent.ts';
import { attachLoop, detachLoop, hasTools, loopUnavailableReason, sh } from './loop-disks.ts';
import { createMemoryUploader, type MemoryUploader } from '../support/memory-snapshot-upload.ts';
import { prerequisite } from '../support/prerequisite.ts';

const execFileAsync = promisify(execFile);
const MiB = 1024 * 1024;
const DISK_BYTES = 64 * MiB;
/** Partition 1 (ext4 with files) and 2 (random bytes), in bytes. */
const P1 = { start: MiB, size: 24 * MiB };
const P2 = { start: 25 * MiB, size: 16 * MiB };
const BACKUP_BYTES = 33 * 512;

const loops = prerequisite('the snapshot capture tests on loop devices', await loopUnavailableReason() ?? await hasTools('zstd', 'sfdisk', 'mkfs.ext4'));

async function sha256Of(path: string, length?: number): Promise<string> {
  const hash = createHash('sha256');
  const file = await open(path, 'r');
  try {
    for await (const chunk of file.createReadStream({ end: length === undefined ? undefined : length - 1 })) hash.update(chunk as Buffer);
  } finally {
    await file.close().catch(() => undefined);
  }
  return hash.digest('hex');
}

/** Completed writes and sectors written, from /sys/block/loopN/stat (the kernel's own counters). */
async function writeCounters(loop: string): Promise<[string, string]> {
  const fields = (await readFile(`/sys/block/${basename(loop)}/stat`, 'utf8')).trim().split(/\s+/);
  return [fields[4]!, fields[6]!];
}

async function decompress(work: string, stream: Buffer): Promise<Buffer> {
  const input = join(work, `stream-${randomBytes(4).toString('hex')}.zst`);
  await writeFile(input, stream);
  await execFileAsync('zstd', ['-d', '-q', '-f', input, '-o', `${input}.raw`]);
  const raw = await readFile(`${input}.raw`);
  await rm(input);
  await rm(`${input}.raw`);
  return raw;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const putTarget = (name: string, manifest = false) => ({ type: 'http_put', url: `http://127.0.0.1:9/${name}?temp_url_sig=SECRETSIG`, ...(manifest ? { manifest_url: `http://127.0.0.1:9/${name}.json?temp_url_sig=SECRETSIG` } : {}) });

loops.describe('snapshot.capture on a loop device', () => {
  let work = '';
  let loop = '';
  let agent: StandaloneTestAgent;
  let uploader: MemoryUploader;
  let diskBefore = '';

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ingot-snapshot-capture-'));
    const files = join(work, 'files');
    await mkdir(join(files, 'etc'), { recursive: true });
    await writeFile(join(files, 'etc', 'hostname'), 'captured\n');
    await writeFile(join(files, 'random.bin'), randomBytes(3 * MiB));
    await writeFile(join(files, 'text.txt'), 'ingot snapshot\n'.repeat(100_000));
    const part1 = join(work, 'part1.img');
    await sh('mkfs.ext4', ['-q', '-F', '-d', files, part1, `${P1.size / 1024}k`]);
    const disk = join(work, 'disk.img');
    await writeFile(disk, '');
    await truncate(disk, DISK_BYTES);
    await sh('sgdisk', [`--new=1:${P1.start / 512}:${(P1.start + P1.size) / 512 - 1}`, '--change-name=1:root', `--new=2:${P2.start / 512}:${(P2.start + P2.size) / 512 - 1}`, '--typecode=2:8200', disk]);
    const handle = await open(disk, 'r+');
    await handle.write(await readFile(part1), 0, P1.size, P1.start);
    await handle.write(randomBytes(P2.size), 0, P2.size, P2.start);
    await handle.close();
    loop = await attachLoop(disk, 512);
    diskBefore = await sha256Of(loop);
    uploader = createMemoryUploader();
    agent = await startStandaloneTestAgent({ disks: [loop], snapshot: { uploader, workers: 2 } });
  });

  afterAll(async () => {
    await agent?.stop();
    if (loop) await detachLoop(loop);
    if (work) await rm(work, { recursive: true, force: true });
  });

  loops.it('captures the whole disk without changing a byte; zstd -d gives the disk back and both digests match the manifest', async () => {
    const writesBefore = await writeCounters(loop);
    const { status, body } = await agent.command('snapshot.capture', { device: loop, target: putTarget('whole', true) });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.command_status, JSON.stringify(body.command_error)).toBe('SUCCEEDED');
    const result = body.command_result as SnapshotCaptureResult;

    // (a) Not one byte changed, and the kernel counted no write.
    expect(await sha256Of(loop)).toBe(diskBefore);
    expect(await writeCounters(loop)).toEqual(writesBefore);

    const upload = uploader.uploads.at(-1)!;
    expect(upload.finished).toBe(true);
    expect(upload.aborted).toBeNull();
    const stream = upload.bytes();
    // (b) zstd's own CLI reads the stream back into the disk, byte for byte.
    const raw = await decompress(work, stream);
    expect(raw.length).toBe(DISK_BYTES);
    expect(sha256(raw)).toBe(diskBefore);
    expect(result.manifest.raw).toEqual({ bytes: DISK_BYTES, sha256: diskBefore });
    // (c) The stored object's digest.
    expect(result.manifest.image).toMatchObject({ format: 'zstd-seekable', bytes: stream.length, sha256: sha256(stream), level: 3, frame_size: 4 * MiB, frames: 16 });
    // (d) The seek table parses and counts the frames the manifest says.
    const footer = parseSeekTableFooter(stream.subarray(-9))!;
    const table = parseSeekTable(stream.subarray(-footer.tableBytes), { streamBytes: stream.length });
    expect(table.frameCount).toBe(result.manifest.image.frames);
    expect(table.hasChecksums).toBe(true);

    // The manifest: the source as lsblk and sfdisk saw it, stored only after the image.
    expect(result.manifest.source).toMatchObject({
      device: loop, size_bytes: DISK_BYTES, logical_sector_size: 512, captured: 'disk',
      partition_table: { type: 'gpt', uuid: expect.stringMatching(/^[0-9A-F-]{36}$/) },
    });
    expect(result.manifest.source.partitions).toEqual([
      expect.objectContaining({ number: 1, start_bytes: P1.start, size_bytes: P1.size, label: 'root', type: '0FC63DAF-8483-4772-8E79-3D69D8477DE4', captured: true }),
      expect.objectContaining({ number: 2, start_bytes: P2.start, size_bytes: P2.size, type: '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F', captured: true }),
    ]);
    expect(result.manifest.agent_version).toMatch(/^\d+\.\d+\.\d+/);
    expect(result.manifest.segments).toBeUndefined();
    expect(result).toMatchObject({ target: 'http_put', segments: [], manifest_stored: true });
    expect(uploader.manifests.get(putTarget('whole', true).manifest_url!)).toEqual(result.manifest);
    // Progress reached the whole disk; no signature reached the log.
    expect(body.command_progress).toMatchObject({ stage: 'capturing', done: DISK_BYTES, total: DISK_BYTES, unit: 'bytes' });
    expect(agent.logText()).not.toContain('SECRETSIG');
  });

  loops.it('captures the table and one partition: both GPT copies and partition 1 byte-identical, zeros elsewhere, in segments', async () => {
    const { body } = await agent.command('snapshot.capture', {
      device: loop, partitions: [1], frame_size: MiB, level: 1,
      target: { type: 'swift', segment_urls: Array.from({ length: 8 }, (_, i) => `http://127.0.0.1:9/seg/${i}?temp_url_sig=SECRETSIG`), segment_size: MiB },
    });
    expect(body.command_status, JSON.stringify(body.command_error)).toBe('SUCCEEDED');
    const result = body.command_result as SnapshotCaptureResult;
    expect(await sha256Of(loop)).toBe(diskBefore);

    const raw = await decompress(work, uploader.uploads.at(-1)!.bytes());
    const disk = await readFile(loop);
    expect(raw.length).toBe(DISK_BYTES);
    expect(raw.subarray(0, MiB).equals(disk.subarray(0, MiB))).toBe(true);
    expect(raw.subarray(P1.start, P1.start + P1.size).equals(disk.subarray(P1.start, P1.start + P1.size))).toBe(true);
    expect(raw.subarray(-BACKUP_BYTES).equals(disk.subarray(-BACKUP_BYTES))).toBe(true);
    // Partition 2 (random bytes) and the free space were not read: zeros.
    expect(raw.subarray(P2.start, DISK_BYTES - BACKUP_BYTES).every((byte) => byte === 0)).toBe(true);
    expect(sha256(raw)).toBe(result.manifest.raw.sha256);
    expect(result.manifest.source.captured).toBe('partitions');
    expect(result.manifest.source.partitions.map((p) => [p.number, p.captured])).toEqual([[1, true], [2, false]]);
    expect(result.manifest.image).toMatchObject({ level: 1, frame_size: MiB, frames: 64 });
    // Segmented targets: the conductor stores the manifest, after completing the object.
    expect(result.manifest_stored).toBe(false);
    expect(result.segments.length).toBeGreaterThan(0);
    expect(result.manifest.segments).toEqual({ size: MiB, count: result.segments.length });
  });

  loops.it('runs as the capture_snapshot service step, the disk chosen by the node\'s root device hints, and lists it with its argsinfo', async () => {
    const node = { uuid: '1be26c0b-03f2-4d2e-ae87-c02d7f33c123', properties: { root_device: { name: loop } } };
    const steps = await agent.command('service.get_service_steps', { node, ports: [] });
    expect(steps.status).toBe(200);
    const step = steps.body.command_result.service_steps.generic_hardware_manager.find((s: { step: string }) => s.step === 'capture_snapshot');
    expect(step).toMatchObject({ interface: 'deploy', priority: 0, reboot_requested: false });
    expect(Object.keys(step.argsinfo)).toEqual(['device', 'root_device_hints', 'partitions', 'frame_size', 'level', 'target', 'segment_retries']);
    expect(step.argsinfo.target.required).toBe(true);

    const { body } = await agent.command('service.execute_service_step', {
      node, ports: [], step: { step: 'capture_snapshot', interface: 'deploy', priority: 0, args: { target: putTarget('step'), level: 1 } },
    });
    expect(body.command_status, JSON.stringify(body.command_error)).toBe('SUCCEEDED');
    expect(body.command_result.service_step).toMatchObject({ step: 'capture_snapshot' });
    const result = body.command_result.service_result as SnapshotCaptureResult;
    expect(result.manifest).toMatchObject({ node_uuid: node.uuid, source: { device: loop }, raw: { sha256: diskBefore }, image: { level: 1 } });
    expect(result.manifest_stored).toBe(false);
    expect(await sha256Of(loop)).toBe(diskBefore);
  });

  loops.it('ends FAILED naming what failed when the store refuses the stream or the manifest; no manifest is written, the disk unchanged', async () => {
    const manifests = uploader.manifests.size;
    uploader.failNextWrite(new IngotError('INGOT_SNAPSHOT_UPLOAD', { details: 'segment 0: the store answered 401 after 4 attempts' }));
    const refused = await agent.command('snapshot.capture', { device: loop, target: putTarget('refused', true) });
    expect(refused.body.command_status).toBe('FAILED');
    expect(refused.body.command_error).toMatchObject({ error_code: 'INGOT_SNAPSHOT_UPLOAD', details: 'segment 0: the store answered 401 after 4 attempts' });
    expect(uploader.uploads.at(-1)).toMatchObject({ finished: false, aborted: expect.any(Error) });
    expect(uploader.manifests.size).toBe(manifests);

    uploader.failNextManifest(new Error('PUT answered 503'));
    const noManifest = await agent.command('snapshot.capture', { device: loop, target: putTarget('no-manifest', true) });
    expect(noManifest.body.command_status).toBe('FAILED');
    expect(JSON.stringify(noManifest.body.command_error)).toMatch(/the image was stored but storing its manifest failed: PUT answered 503/);
    expect(uploader.manifests.size).toBe(manifests);
    expect(await sha256Of(loop)).toBe(diskBefore);
  });

  loops.it('refuses bad parameters with a 400 naming the field, and a disk not given to the agent with a 403', async () => {
    const cases: Array<[Record<string, unknown>, number, RegExp]> = [
      [{ device: loop, frame_size: 3 * MiB + 512, target: putTarget('bad') }, 400, /frame_size/],
      [{ device: loop, level: 22, target: putTarget('bad') }, 400, /level/],
      [{ device: loop, partitions: [7], target: putTarget('bad') }, 400, /partitions \[7\] do not exist on/],
      [{ device: loop, target: { type: 's3', part_urls: ['http://127.0.0.1:9/p'], segment_size: MiB } }, 400, /target\.segment_size/],
      [{ device: loop, target: { type: 'http_put', url: 'ftp://127.0.0.1/x' } }, 400, /target\.url/],
      [{ device: '/dev/sda', target: putTarget('bad') }, 403, /\/dev\/sda/],
    ];
    const opened = uploader.uploads.length;
    for (const [params, status, message] of cases) {
      const answer = await agent.command('snapshot.capture', params);
      expect(answer.status, JSON.stringify(answer.body)).toBe(status);
      expect(answer.body.faultstring).toMatch(message);
      expect(answer.body.faultcode).toBeTypeOf('string');
    }
    expect(uploader.uploads.length).toBe(opened);
  });

  loops.it('ends FAILED when snapshot.abort comes midway: the upload aborted, nothing finished, no manifest, the disk unchanged', async () => {
    uploader.holdWrites();
    const manifests = uploader.manifests.size;
    const started = await agent.command('snapshot.capture', { device: loop, frame_size: MiB, target: putTarget('aborted', true) }, { wait: false });
    expect(started.body.command_status).toBe('RUNNING');
    await uploader.writeHeld();
    // The capture is running: anything else is busy, snapshot.abort is not.
    expect((await agent.command('standby.get_partition_uuids', {})).status).toBe(409);
    const abort = await agent.command('snapshot.abort', {});
    expect(abort.status).toBe(200);
    expect(abort.body.command_result).toEqual({ aborted: true });
    uploader.releaseWrites();
    let status = started.body;
    for (let i = 0; i < 200 && status.command_status === 'RUNNING'; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = (await (await fetch(`${agent.url}/v1/commands/${started.body.id}?agent_token=${'t'.repeat(43)}`)).json()) as typeof status;
    }
    expect(status.command_status).toBe('FAILED');
    expect(JSON.stringify(status.command_error)).toMatch(/aborted by snapshot\.abort/);
    const upload = uploader.uploads.at(-1)!;
    expect(upload.finished).toBe(false);
    expect(upload.aborted?.message).toMatch(/aborted by snapshot\.abort/);
    expect(uploader.manifests.size).toBe(manifests);
    expect(await sha256Of(loop)).toBe(diskBefore);
    // And the agent takes commands again.
    expect((await agent.command('snapshot.abort', {})).body.command_result).toEqual({ aborted: false });
  });
});

/**
 * A real kernel I/O error without device-mapper (this kernel has none, and no
 * modules): QEMU's blkdebug driver, exported by qemu-storage-daemon as a FUSE
 * file, answers EIO for the 4 KiB at byte 8 MiB of a 16 MiB disk; a
 * read-only loop device over that file hands the error to the agent exactly
 * as a failing disk would (the read returns EIO from the block layer).
 */
async function blkdebugUnavailableReason(): Promise<string | null> {
  const loopsMissing = await loopUnavailableReason();
  if (loopsMissing) return loopsMissing;
  const missing = await hasTools('qemu-storage-daemon', 'zstd', 'sfdisk');
  if (missing) return missing;
  return existsSync('/dev/fuse') ? null : 'there is no /dev/fuse for qemu-storage-daemon\'s FUSE export';
}

const failing = prerequisite('the snapshot read-error test (blkdebug over FUSE)', await blkdebugUnavailableReason());

failing.describe('snapshot.capture of a disk with a bad range', () => {
  let work = '';
  let loop = '';
  let daemon: ChildProcess | undefined;
  let agent: StandaloneTestAgent | undefined;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ingot-snapshot-error-'));
    const file = join(work, 'disk.img');
    const exported = join(work, 'export.img');
    await writeFile(file, randomBytes(16 * MiB));
    await writeFile(exported, '');
    // Sector 16384 (of 512 bytes): byte 8 MiB; every read of it fails, not only the first.
    await writeFile(join(work, 'blkdebug.conf'), '[inject-error]\nevent = "read_aio"\nerrno = "5"\nsector = "16384"\nonce = "off"\n');
    const node = { driver: 'raw', 'node-name': 'disk', file: { driver: 'blkdebug', config: join(work, 'blkdebug.conf'), image: { driver: 'file', filename: file } } };
    daemon = spawn('qemu-storage-daemon', ['--blockdev', JSON.stringify(node), '--export', `type=fuse,id=e0,node-name=disk,mountpoint=${exported}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    daemon.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    // The export is there once the file takes the disk's size.
    for (let i = 0; (await stat(exported)).size !== 16 * MiB; i++) {
      if (i > 100 || daemon.exitCode !== null) throw new Error(`qemu-storage-daemon did not export ${exported}: ${stderr.trim()}`);
      await new Promise((resolveWait) => setTimeout(resolveWait, 50));
    }
    loop = (await sh('losetup', ['--read-only', '--show', '--find', exported])).stdout.trim();
  });

  afterAll(async () => {
    await agent?.stop();
    if (loop) await detachLoop(loop);
    if (daemon && daemon.exitCode === null) {
      daemon.kill('SIGTERM');
      await new Promise((resolveExit) => daemon!.once('exit', resolveExit));
    }
    if (work) await rm(work, { recursive: true, force: true });
  });

  failing.it('fails with INGOT_SNAPSHOT_READ naming the device, the offset and the errno, and aborts the upload', async () => {
    const uploader = createMemoryUploader();
    agent = await startStandaloneTestAgent({ disks: [loop], snapshot: { uploader, workers: 2 } });
    const { body } = await agent.command('snapshot.capture', { device: loop, target: putTarget('broken', true) });
    expect(body.command_status).toBe('FAILED');
    const error = JSON.stringify(body.command_error);
    expect(error).toContain('INGOT_SNAPSHOT_READ');
    expect(error).toContain(loop);
    expect(error).toMatch(/at byte 8388608 failed with EIO/);
    expect(uploader.uploads.at(-1)!.aborted).not.toBeNull();
    expect(uploader.uploads.at(-1)!.finished).toBe(false);
    expect(uploader.manifests.size).toBe(0);
  });
});
