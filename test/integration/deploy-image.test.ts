import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import zstd from 'zstd-napi';
import { AgentClient } from '@ingot/conductor-client';
import { createTestCertificate } from '@ingot/conductor-client/testing';
import { isIngotError, type NodeInfo } from '@ingot/protocol';
import { serveFiles } from '../support/serve-files.ts';
import { createSimulatedMachine, type SimulatedMachine } from '../support/simulated-machine.ts';
import { startTestAgent, startTestConductor, until, type Cleanups } from '../support/paired-agent.ts';
import { prerequisite } from '../support/prerequisite.ts';

const log = pino({ level: process.env.INGOT_TEST_LOG ?? 'silent' });
const cleanups: Cleanups = [];
afterEach(async () => { for (const cleanup of cleanups.splice(0).reverse()) await cleanup(); });

const MiB = 1024 * 1024;
const qemuImg = prerequisite('the qcow2 deployment test', (() => {
  try {
    execFileSync('qemu-img', ['--version'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'qemu-img is not installed (Debian package qemu-utils)';
  }
})());
const NODE_UUID = '1be26c0b-03f2-4d4e-9e8c-5f1b5c1b0a02';

/** 8 MiB of random data shaped as a whole-disk image: an MBR disk signature at 440 and the boot signature at 510. */
function createRawImage(): { bytes: Buffer; diskIdentifier: string } {
  const bytes = randomBytes(8 * MiB);
  bytes.writeUInt32LE(0x1234abcd, 440);
  bytes.writeUInt16LE(0, 444);
  bytes.fill(0, 446, 510); // an msdos table with no partition: get_partition_uuids says partition_table msdos
  bytes[510] = 0x55;
  bytes[511] = 0xaa;
  return { bytes, diskIdentifier: '0x1234abcd' };
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function serveImages(files: Record<string, Buffer>, tls?: { key: string; cert: string }): Promise<string> {
  const server = await serveFiles(files, tls);
  cleanups.push(() => server.close());
  return server.base;
}

/** A conductor and an agent paired over automatic TLS, with one 64 MiB disk file. */
async function startPairedAgent(machine: SimulatedMachine, options: { caFile?: string; kernel?: Record<string, string> } = {}) {
  const conductor = await startTestConductor(machine, cleanups, log, { nodeUuid: NODE_UUID });
  const agent = await startTestAgent(machine, conductor.url, cleanups, log, options);
  const beat = await until('the first heartbeat', () => conductor.heartbeats[0]);
  const client = new AgentClient({ url: beat.callbackUrl, token: conductor.tokens[0]!, ca: beat.agentVerifyCa, log });
  cleanups.push(() => client.close());
  return { agent, client };
}

/** The disk is 64 MiB, below IPA's 4 GiB minimum for a disk chosen without hints, so the node names it (9.10). */
const nodeFor = (disk: string): NodeInfo => ({ uuid: NODE_UUID, instance_info: { root_device: { name: disk } } });

async function runWriteImage(client: AgentClient, node: NodeInfo, imageInfo: Record<string, unknown>) {
  const versions = (await client.getDeploySteps(node, [])).hardwareManagerVersion;
  const step = { interface: 'deploy', step: 'write_image', args: { image_info: imageInfo, configdrive: null } };
  await client.executeDeployStep(step, node, [], versions);
  return { step, done: await client.waitForCommand('execute_deploy_step', { intervalMs: 200, timeoutMs: 60_000 }) };
}

describe('whole-disk image deployment through IPA\'s write_image step and standby.prepare_image', () => {
  it('writes a raw image to the disk named by the root device hints and reports its MBR disk identifier as the root uuid', async () => {
    const machine = createSimulatedMachine({ disks: 1 });
    cleanups.push(() => machine.remove());
    const image = createRawImage();
    const base = await serveImages({ '/disk.img': image.bytes });
    const { client } = await startPairedAgent(machine);
    const disk = machine.disks[0]!;

    expect(await client.getPartitionUuids()).toEqual({});
    const { step, done } = await runWriteImage(client, nodeFor(disk), {
      id: 'disk.img', urls: [`${base}/disk.img`], os_hash_algo: 'sha256', os_hash_value: sha256(image.bytes),
      disk_format: 'raw', image_type: 'whole-disk', stream_raw_images: true,
    });

    expect(done.command_status).toBe('SUCCEEDED');
    expect(done.command_result).toEqual({
      deploy_result: { result: `prepare_image: image (disk.img) written to device ${disk} root_uuid=${image.diskIdentifier}` },
      deploy_step: step,
    });
    expect(readFileSync(disk).subarray(0, image.bytes.length).equals(image.bytes)).toBe(true);
    expect(await client.getPartitionUuids()).toEqual({ 'root uuid': image.diskIdentifier, partition_table: 'msdos', disk_guid: null });
  });

  it('writes a zstd-compressed image whose digest is that of the file as served', async () => {
    const machine = createSimulatedMachine({ disks: 1 });
    cleanups.push(() => machine.remove());
    const image = createRawImage();
    const compressed = zstd.compress(image.bytes);
    const base = await serveImages({ '/disk.img.zst': compressed });
    const { client } = await startPairedAgent(machine);
    const disk = machine.disks[0]!;

    const { done } = await runWriteImage(client, nodeFor(disk), {
      id: 'disk.img.zst', urls: [`${base}/disk.img.zst`], os_hash_algo: 'sha256', os_hash_value: sha256(compressed),
      disk_format: 'raw', image_type: 'whole-disk', stream_raw_images: true,
    });

    expect(done.command_status).toBe('SUCCEEDED');
    expect(readFileSync(disk).subarray(0, image.bytes.length).equals(image.bytes)).toBe(true);
    expect(await client.getPartitionUuids()).toEqual({ 'root uuid': image.diskIdentifier, partition_table: 'msdos', disk_guid: null });
  });

  qemuImg.it('writes a qcow2 image declared qcow2 through qemu-img, after verifying the digest of the qcow2 file as served', async () => {
    const machine = createSimulatedMachine({ disks: 1 });
    cleanups.push(() => machine.remove());
    const image = createRawImage();
    const dir = mkdtempSync(join(tmpdir(), 'ingot-deploy-qcow2-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'disk.raw'), image.bytes);
    execFileSync('qemu-img', ['convert', '-c', '-f', 'raw', '-O', 'qcow2', join(dir, 'disk.raw'), join(dir, 'disk.qcow2')]);
    const qcow2 = readFileSync(join(dir, 'disk.qcow2'));
    const base = await serveImages({ '/disk.qcow2': qcow2 });
    const { client } = await startPairedAgent(machine);
    const disk = machine.disks[0]!;

    const { done } = await runWriteImage(client, nodeFor(disk), {
      id: 'disk.qcow2', urls: [`${base}/disk.qcow2`], os_hash_algo: 'sha256', os_hash_value: sha256(qcow2),
      disk_format: 'qcow2', image_type: 'whole-disk', stream_raw_images: true,
    });

    expect(done.command_status).toBe('SUCCEEDED');
    expect(readFileSync(disk).subarray(0, image.bytes.length).equals(image.bytes)).toBe(true);
    expect(await client.getPartitionUuids()).toEqual({ 'root uuid': image.diskIdentifier, partition_table: 'msdos', disk_guid: null });
  });

  it('downloads an https image trusting the CA of --ca-file (ipa-ca-file, as IPA\'s cafile)', async () => {
    const machine = createSimulatedMachine({ disks: 1 });
    cleanups.push(() => machine.remove());
    const image = createRawImage();
    const certificate = createTestCertificate();
    const caFile = join(machine.dir, 'ca.pem');
    writeFileSync(caFile, certificate.cert);
    const url = `${await serveImages({ '/disk.img': image.bytes }, certificate)}/disk.img`;
    const imageInfo = { id: 'disk.img', urls: [url], os_hash_algo: 'sha256', os_hash_value: sha256(image.bytes), disk_format: 'raw', image_type: 'whole-disk', stream_raw_images: true };

    const trusting = await startPairedAgent(machine, { caFile });
    const { done } = await runWriteImage(trusting.client, nodeFor(machine.disks[0]!), imageInfo);
    expect(done.command_status).toBe('SUCCEEDED');
    expect(readFileSync(machine.disks[0]!).subarray(0, image.bytes.length).equals(image.bytes)).toBe(true);
  });

  it('refuses an https image server the system store does not vouch for when no --ca-file is given', async () => {
    const machine = createSimulatedMachine({ disks: 1 });
    cleanups.push(() => machine.remove());
    const image = createRawImage();
    const certificate = createTestCertificate();
    const url = `${await serveImages({ '/disk.img': image.bytes }, certificate)}/disk.img`;
    const before = readFileSync(machine.disks[0]!);

    const { client } = await startPairedAgent(machine);
    const { done } = await runWriteImage(client, nodeFor(machine.disks[0]!), {
      id: 'disk.img', urls: [url], os_hash_algo: 'sha256', os_hash_value: sha256(image.bytes), disk_format: 'raw', image_type: 'whole-disk', stream_raw_images: true,
    });
    expect(done.command_status).toBe('FAILED');
    expect(JSON.stringify(done.command_error)).toMatch(/certificate/i);
    expect(readFileSync(machine.disks[0]!).equals(before)).toBe(true);
  });

  it('follows Ironic 21.4\'s UEFI whole-disk sequence with a config drive: write_image, get_partition_uuids, then image.install_bootloader', async () => {
    const machine = createSimulatedMachine({ disks: 1, sizeMiB: 128 });
    cleanups.push(() => machine.remove());
    // A GPT whole-disk image made for a 16 MiB disk, its backup header in the middle of the 128 MiB disk once written.
    const dir = mkdtempSync(join(tmpdir(), 'ingot-gpt-image-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'disk.img');
    writeFileSync(file, '');
    truncateSync(file, 16 * MiB);
    execFileSync('sgdisk', ['--new=1:2048:+8M', '--typecode=1:EF00', '--disk-guid=5d3f2e1a-7b6c-4d8e-9f0a-1b2c3d4e5f60', file], { stdio: 'ignore' });
    const imageBytes = readFileSync(file);
    const base = await serveImages({ '/disk.img': imageBytes });
    const { client } = await startPairedAgent(machine);
    const disk = machine.disks[0]!;
    const configdrive = readFileSync(new URL('../../agent/src/image/request/fixtures/configdrive-iso.gz.b64', import.meta.url), 'utf8').trim();

    const versions = (await client.getDeploySteps(nodeFor(disk), [])).hardwareManagerVersion;
    const step = { interface: 'deploy', step: 'write_image', args: { image_info: {
      id: 'disk.img', urls: [`${base}/disk.img`], os_hash_algo: 'sha256', os_hash_value: sha256(imageBytes), disk_format: 'raw', image_type: 'whole-disk', stream_raw_images: true,
    }, configdrive } };
    await client.executeDeployStep(step, nodeFor(disk), [], versions);
    const done = await client.waitForCommand('execute_deploy_step', { intervalMs: 200, timeoutMs: 60_000 });
    expect(done.command_status).toBe('SUCCEEDED');

    const uuids = await client.getPartitionUuids();
    // IPA's root uuid stays the (empty) MBR disk signature, which Ironic stores; Ingot's keys say it is GPT and which disk.
    expect(uuids).toEqual({ 'root uuid': '0x00000000', partition_table: 'gpt', disk_guid: '5d3f2e1a-7b6c-4d8e-9f0a-1b2c3d4e5f60' });
    const bootloader = await client.installBootloader({ rootUuid: uuids['root uuid'] as string, efiSystemPartUuid: null, prepBootPartUuid: null, targetBootMode: 'uefi' }, { intervalMs: 200, timeoutMs: 60_000 });
    expect(bootloader.command_status).toBe('SUCCEEDED');
    expect(bootloader.command_result).toBeNull();

    const table = execFileSync('sgdisk', ['--print', disk], { encoding: 'utf8' });
    expect(table).toMatch(/\n\s+2\s+\d+\s+\d+\s+6[45]\.0 MiB\s+8300\s+config-2/);
    expect(execFileSync('sgdisk', ['--verify', disk], { encoding: 'utf8' })).toMatch(/No problems found/);
    const iso = execFileSync('blkid', ['-p', '-O', String(Number(/\n\s+2\s+(\d+)/.exec(table)![1]) * 512), '-o', 'export', disk], { encoding: 'utf8' });
    expect(iso).toMatch(/TYPE=iso9660/);
    expect(iso).toMatch(/LABEL=config-2/);
  });

  it('takes ipa-ignore-bootloader-failure from the kernel command line: a failed install succeeds, unless the command says not to ignore it', async () => {
    const machine = createSimulatedMachine({ disks: 1 });
    cleanups.push(() => machine.remove());
    const image = createRawImage();
    const base = await serveImages({ '/disk.img': image.bytes });
    const { client } = await startPairedAgent(machine, { kernel: { 'ipa-ignore-bootloader-failure': '1' } });
    const { done } = await runWriteImage(client, nodeFor(machine.disks[0]!), {
      id: 'disk.img', urls: [`${base}/disk.img`], os_hash_algo: 'sha256', os_hash_value: sha256(image.bytes), disk_format: 'raw', image_type: 'whole-disk', stream_raw_images: true,
    });
    expect(done.command_status).toBe('SUCCEEDED');
    // A partition image's root uuid: its partitions cannot be mounted from a disk file, so the install fails.
    const rootUuid = 'c2b6f8a4-0d1e-4f5a-8b9c-0123456789ab';
    const params = { rootUuid, efiSystemPartUuid: null, prepBootPartUuid: null, targetBootMode: 'uefi' as const };

    const ignored = await client.installBootloader(params, { intervalMs: 200, timeoutMs: 60_000 });
    expect(ignored.command_status).toBe('SUCCEEDED');
    expect(ignored.command_result).toBeNull();

    const started = await client.runCommand('image.install_bootloader', { root_uuid: rootUuid, efi_system_part_uuid: null, prep_boot_part_uuid: null, target_boot_mode: 'uefi', ignore_bootloader_failure: false });
    const failed = await client.waitForCommand('install_bootloader', { id: started.id, intervalMs: 200, timeoutMs: 60_000 });
    expect(failed.command_status).toBe('FAILED');
    expect(failed.command_error).toMatchObject({ error_code: 'INGOT_BOOTLOADER_FAILED' });
  });

  it('fails with INGOT_IMAGE_CHECKSUM on a wrong digest, leaves the first MiB of the disk zeroed and records no partition uuids', async () => {
    const machine = createSimulatedMachine({ disks: 1 });
    cleanups.push(() => machine.remove());
    const image = createRawImage();
    const base = await serveImages({ '/disk.img': image.bytes });
    const { client } = await startPairedAgent(machine);
    const disk = machine.disks[0]!;

    const { done } = await runWriteImage(client, nodeFor(disk), {
      id: 'disk.img', urls: [`${base}/disk.img`], os_hash_algo: 'sha256', os_hash_value: sha256(Buffer.from('another image')),
      disk_format: 'raw', image_type: 'whole-disk', stream_raw_images: true,
    });

    expect(done.command_status).toBe('FAILED');
    expect(done.command_error).toMatchObject({ error_code: 'INGOT_IMAGE_CHECKSUM' });
    expect(readFileSync(disk).subarray(0, MiB).equals(Buffer.alloc(MiB))).toBe(true);
    expect(await client.getPartitionUuids()).toEqual({});
  });

  it('refuses a bad image_info sent to standby.prepare_image with HTTP 400 INGOT_INVALID_PARAMS and records nothing', async () => {
    const machine = createSimulatedMachine({ disks: 1 });
    cleanups.push(() => machine.remove());
    const { agent, client } = await startPairedAgent(machine);
    const before = readFileSync(machine.disks[0]!).subarray(0, MiB);

    const refused = await client.runCommand('standby.prepare_image', { image_info: { id: 'disk.img', urls: ['ftp://example.invalid/disk.img'], os_hash_algo: 'sha256', os_hash_value: 'a'.repeat(64) } }, { wait: false })
      .catch((error: unknown) => error);
    expect(isIngotError(refused) && refused.code).toBe('INGOT_INVALID_PARAMS');
    expect(isIngotError(refused) && refused.status).toBe(400);

    const badDrive = await client.runCommand('standby.prepare_image', { image_info: { id: 'p.img', urls: ['http://127.0.0.1/p.img'], os_hash_algo: 'sha256', os_hash_value: 'a'.repeat(64), image_type: 'partition', root_mb: 10 }, configdrive: 'not base64!' })
      .catch((error: unknown) => error);
    expect(isIngotError(badDrive) && badDrive.status).toBe(400);
    expect(isIngotError(badDrive) && badDrive.code).toBe('INGOT_CONFIGDRIVE_INVALID');

    const credentials = await client.runCommand('standby.prepare_image', { image_info: { id: 'd.img', urls: ['http://127.0.0.1/d.img'], os_hash_algo: 'sha256', os_hash_value: 'a'.repeat(64), image_server_auth_strategy: 'http_basic', image_server_user: 'u', image_server_password: 'p' } })
      .catch((error: unknown) => error);
    expect(isIngotError(credentials) && credentials.message).toMatch(/image server authentication is not supported yet/);

    expect(agent.runner.list().filter((command) => command.command_name.endsWith('prepare_image'))).toEqual([]);
    expect(await client.getPartitionUuids()).toEqual({});
    expect(readFileSync(machine.disks[0]!).subarray(0, MiB).equals(before)).toBe(true);
  });
});
