/**
 * The rest of IPA's command surface on the real agent, driven over HTTPS by
 * conductor-client: standby.cache_image and the writes it lets the agent
 * skip, service steps, poll.set_node_info, system.lockdown and the rescue
 * action of the reference conductor (rescue.finalize_rescue).
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { verify } from 'unixcrypt';
import { AgentClient } from '@ingot/conductor-client';
import { createReferenceConductor, driveRescue } from '@ingot/conductor-client/reference-conductor';
import { isIngotError, type NodeInfo } from '@ingot/protocol';
import { ImageHttpServer } from '../support/image-http-server.ts';
import { startAgentProcess } from './ironic/agent-process.ts';
import { findFreePort } from './ironic/free-port.ts';
import { createSimulatedMachine, type SimulatedMachine } from '../support/simulated-machine.ts';
import { startTestAgent, startTestConductor, until, type Cleanups } from '../support/paired-agent.ts';
import { createRecordingLog } from '../support/recording-log.ts';

const log = pino({ level: process.env.INGOT_TEST_LOG ?? 'silent' });
const cleanups: Cleanups = [];
afterEach(async () => { for (const cleanup of cleanups.splice(0).reverse()) await cleanup(); });

const MiB = 1024 * 1024;
const NODE_UUID = '1be26c0b-03f2-4d4e-9e8c-5f1b5c1b0a07';

function createRawImage(): { bytes: Buffer; diskIdentifier: string } {
  const bytes = randomBytes(4 * MiB);
  bytes.writeUInt32LE(0x5eed1234, 440);
  bytes.writeUInt16LE(0, 444);
  bytes.fill(0, 446, 510); // an msdos table with no partition: get_partition_uuids says partition_table msdos
  bytes[510] = 0x55;
  bytes[511] = 0xaa;
  return { bytes, diskIdentifier: '0x5eed1234' };
}

async function startImageServer(files: Record<string, Buffer>): Promise<ImageHttpServer> {
  const server = new ImageHttpServer();
  for (const [path, body] of Object.entries(files)) server.routes.set(path, { body });
  await server.start();
  cleanups.push(() => server.stop());
  return server;
}

async function startPaired(machine: SimulatedMachine, options: { exit?: (code: number) => void; agentLog?: typeof log } = {}) {
  const conductor = await startTestConductor(machine, cleanups, log, { nodeUuid: NODE_UUID });
  const agent = await startTestAgent(machine, conductor.url, cleanups, options.agentLog ?? log, { exit: options.exit });
  const beat = await until('the first heartbeat', () => conductor.heartbeats[0]);
  const client = new AgentClient({ url: beat.callbackUrl, token: conductor.tokens[0]!, ca: beat.agentVerifyCa, log });
  cleanups.push(() => client.close());
  return { conductor, agent, client, beat };
}

const nodeFor = (disk: string): NodeInfo => ({ uuid: NODE_UUID, instance_info: { root_device: { name: disk } } });
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('standby.cache_image on a disk file, through the real image pipeline', () => {
  it('writes the image once: prepare_image and write_image of the same id skip the write, force and another step write again', async () => {
    const machine = createSimulatedMachine({ disks: 1 });
    cleanups.push(() => machine.remove());
    const disk = machine.disks[0]!;
    const image = createRawImage();
    const images = await startImageServer({ '/disk.img': image.bytes });
    const imageInfo = {
      id: 'disk.img', urls: [images.url('/disk.img')], os_hash_algo: 'sha256', os_hash_value: sha256(image.bytes),
      disk_format: 'raw', image_type: 'whole-disk', stream_raw_images: true,
    };
    const { client } = await startPaired(machine);
    const node = nodeFor(disk);
    const downloads = () => images.requests.filter((request) => request.path === '/disk.img').length;
    // The step commands cache the node, whose hints choose the 64 MiB disk (IPA's cache_node).
    const versions = (await client.getDeploySteps(node, [])).hardwareManagerVersion;

    await client.cacheImage(imageInfo);
    const cached = await client.waitForCommand('cache_image', { intervalMs: 100, timeoutMs: 60_000 });
    expect(cached.command_status).toBe('SUCCEEDED');
    expect(cached.command_result).toEqual({ result: `cache_image: image (disk.img) cached to device ${disk} root_uuid=${image.diskIdentifier}` });
    expect(readFileSync(disk).subarray(0, image.bytes.length).equals(image.bytes)).toBe(true);
    expect(downloads()).toBe(1);

    await client.prepareImage(imageInfo);
    const prepared = await client.waitForCommand('prepare_image', { intervalMs: 100, timeoutMs: 60_000 });
    expect(prepared.command_result).toEqual({ result: `prepare_image: image (disk.img) already present on device ${disk} root_uuid=${image.diskIdentifier}` });
    expect(await client.getPartitionUuids()).toEqual({ 'root uuid': image.diskIdentifier, partition_table: 'msdos', disk_guid: null });

    const step = { interface: 'deploy', step: 'write_image', args: { image_info: imageInfo, configdrive: null } };
    await client.executeDeployStep(step, node, [], versions);
    const written = await client.waitForCommand('execute_deploy_step', { intervalMs: 100, timeoutMs: 60_000 });
    expect(written.command_result).toEqual({ deploy_result: { result: `prepare_image: image (disk.img) already present on device ${disk} root_uuid=${image.diskIdentifier}` }, deploy_step: step });
    expect(downloads()).toBe(1);
    expect(readFileSync(disk).subarray(0, image.bytes.length).equals(image.bytes)).toBe(true);

    await client.cacheImage(imageInfo, { force: true });
    expect((await client.waitForCommand('cache_image', { intervalMs: 100, timeoutMs: 60_000 })).command_result).toEqual({ result: `cache_image: image (disk.img) cached to device ${disk} root_uuid=${image.diskIdentifier}` });
    expect(downloads()).toBe(2);

    // A clean step may change the disk: the cache is forgotten and the next prepare_image writes.
    const clean = await client.getCleanSteps(node, []);
    await client.executeCleanStep({ interface: 'deploy', step: 'erase_devices_metadata' }, node, [], clean.hardwareManagerVersion);
    expect((await client.waitForCommand('execute_clean_step', { intervalMs: 100, timeoutMs: 60_000 })).command_status).toBe('SUCCEEDED');
    await client.prepareImage(imageInfo);
    expect((await client.waitForCommand('prepare_image', { intervalMs: 100, timeoutMs: 60_000 })).command_result).toEqual({ result: `prepare_image: image (disk.img) written to device ${disk} root_uuid=${image.diskIdentifier}` });
    expect(downloads()).toBe(3);
    expect(readFileSync(disk).subarray(0, image.bytes.length).equals(image.bytes)).toBe(true);
  });

  it('refuses a partition image and a non-boolean force with a 400 before anything starts', async () => {
    const machine = createSimulatedMachine({ disks: 1 });
    cleanups.push(() => machine.remove());
    const { client, agent } = await startPaired(machine);
    const info = { id: 'p', urls: ['http://127.0.0.1:9/p'], os_hash_algo: 'sha256', os_hash_value: 'a'.repeat(64), disk_format: 'raw', image_type: 'partition', root_mb: 10 };
    const partition = await client.cacheImage(info).catch((error: unknown) => error);
    expect(isIngotError(partition, 'INGOT_INVALID_PARAMS') && partition.message).toMatch(/whole-disk images only/);
    const force = await client.runCommand('standby.cache_image', { image_info: { ...info, image_type: 'whole-disk' }, force: 'yes' }).catch((error: unknown) => error);
    expect(isIngotError(force, 'INGOT_INVALID_PARAMS') && force.message).toContain('"force"');
    expect(agent.runner.list()).toEqual([]);
  });
});

describe('service steps through the real agent', () => {
  it('lists write_image among the generic manager\'s service steps and runs it, echoing service_step', async () => {
    const machine = createSimulatedMachine({ disks: 1 });
    cleanups.push(() => machine.remove());
    const disk = machine.disks[0]!;
    const image = createRawImage();
    const images = await startImageServer({ '/disk.img': image.bytes });
    const { client } = await startPaired(machine);
    const node = nodeFor(disk);

    const steps = await client.getServiceSteps(node, []);
    expect(steps.hardwareManagerVersion).toEqual({ generic_hardware_manager: '1.2' });
    // As IPA's generic manager (5.6): the raid steps and write_image, no erase step: service steps run on an active node;
    // and Ingot's capture_snapshot (issue 13).
    expect(steps.steps.generic_hardware_manager).toEqual([
      expect.objectContaining({ step: 'delete_configuration', interface: 'raid', priority: 0, reboot_requested: false, abortable: true }),
      expect.objectContaining({ step: 'apply_configuration', interface: 'raid', priority: 0, reboot_requested: false, abortable: true }),
      expect.objectContaining({ step: 'create_configuration', interface: 'raid', priority: 0, reboot_requested: false, abortable: true }),
      expect.objectContaining({ step: 'write_image', interface: 'deploy', priority: 0, reboot_requested: false, abortable: false }),
      expect.objectContaining({ step: 'capture_snapshot', interface: 'deploy', priority: 0, reboot_requested: false, abortable: true }),
    ]);
    const step = {
      interface: 'deploy', step: 'write_image',
      args: { image_info: { id: 'disk.img', urls: [images.url('/disk.img')], os_hash_algo: 'sha256', os_hash_value: sha256(image.bytes), disk_format: 'raw', image_type: 'whole-disk' } },
    };
    await client.executeServiceStep(step, node, [], steps.hardwareManagerVersion);
    const done = await client.waitForCommand('execute_service_step', { intervalMs: 100, timeoutMs: 60_000 });
    expect(done.command_status).toBe('SUCCEEDED');
    expect(done.command_result).toEqual({ service_result: { result: `prepare_image: image (disk.img) written to device ${disk} root_uuid=${image.diskIdentifier}` }, service_step: step });
    expect(readFileSync(disk).subarray(0, image.bytes.length).equals(image.bytes)).toBe(true);

    await client.executeServiceStep({ interface: 'deploy', step: 'burnin_cpu' }, node, [], steps.hardwareManagerVersion);
    const missing = await client.waitForCommand('execute_service_step', { intervalMs: 100, timeoutMs: 60_000 });
    expect(missing.command_status).toBe('FAILED');
    expect(missing.command_error).toMatchObject({ type: 'HardwareManagerMethodNotFound' });
  });
});

describe('poll.set_node_info with a conductor', () => {
  it('is refused as IPA\'s InvalidCommandError: the node comes from the lookup', async () => {
    const machine = createSimulatedMachine({ disks: 1 });
    cleanups.push(() => machine.remove());
    const { client, agent } = await startPaired(machine);
    const error = await client.setNodeInfo({ node: { uuid: 'another' }, config: {} }).catch((thrown: unknown) => thrown);
    expect(isIngotError(error, 'INGOT_INVALID_COMMAND') && error.message).toContain('only in standalone mode');
    expect(agent.session.node?.uuid).toBe(NODE_UUID);
  });
});

describe('rescue and lockdown on a paired agent', () => {
  it('rescues: the conductor sends a SHA-512 crypt hash, the agent writes it 0600, stops its API and heartbeats, and exits 0', async () => {
    const machine = createSimulatedMachine({ disks: 1 });
    cleanups.push(() => machine.remove());
    const recording = createRecordingLog();
    const exits: number[] = [];
    const { client, agent } = await startPaired(machine, { exit: (code) => exits.push(code), agentLog: recording.log });
    const password = `rescue-${randomBytes(6).toString('hex')}`;

    const report = await driveRescue({ client, password, pollIntervalMs: 50, stopTimeoutMs: 20_000, log });
    expect(report.hashed).toBe(true);
    await until('the exit hook', () => exits.length > 0);
    expect(exits).toEqual([0]);
    await agent.done; // the lookup loop, and with it the heartbeats, ended

    const passwordFile = join(machine.dir, 'ipa-rescue-config', 'ipa-rescue-password');
    const hash = readFileSync(passwordFile, 'utf8');
    expect(hash).toMatch(/^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}\n$/);
    expect(verify(password, hash.trim())).toBe(true);
    expect(execFileSync('openssl', ['passwd', '-6', '-salt', hash.split('$')[2]!, '-stdin'], { input: password, encoding: 'utf8' })).toBe(hash);
    expect(statSync(passwordFile).mode & 0o777).toBe(0o600);
    expect(existsSync(join(machine.dir, '.rescued'))).toBe(true);

    const refused = await client.getCommandsStatus({ retry: false }).catch((error: unknown) => error);
    expect(isIngotError(refused, 'INGOT_AGENT_UNREACHABLE')).toBe(true);
    expect(recording.matching('rescue finalized: the API is stopped; log in as rescue')).toHaveLength(1);
    const logged = JSON.stringify(recording.records);
    expect(logged).not.toContain(password);
    expect(logged).not.toContain(hash.trim());
  });

  it('locks down after standby.sync: the API stops answering, the heartbeats stop, and the agent does not exit', async () => {
    const machine = createSimulatedMachine({ disks: 1 });
    cleanups.push(() => machine.remove());
    const exits: number[] = [];
    const { client, agent } = await startPaired(machine, { exit: (code) => exits.push(code) });
    await client.sync();
    const reply = await client.lockdown();
    expect(reply).toMatchObject({ command_name: 'lockdown', command_status: 'SUCCEEDED', command_result: null });
    await client.waitUntilUnreachable({ intervalMs: 50, timeoutMs: 20_000 });
    await agent.done;
    expect(agent.phase).toBe('locked-down');
    expect(exits).toEqual([]);
  });

  it('as a process (the ramdisk\'s contract): the reference conductor rescues it, it exits 0, and restarted on the rescued node it exits 0 without serving', async () => {
    const machine = createSimulatedMachine({ disks: 1 });
    cleanups.push(() => machine.remove());
    const mac = JSON.parse(readFileSync(machine.machineFile, 'utf8')).interfaces[0].mac_address as string;
    const password = `rescue-${randomBytes(6).toString('hex')}`;
    const conductor = await createReferenceConductor({ listenHost: '127.0.0.1', port: 0, pollIntervalMs: 100, nodes: [{ uuid: NODE_UUID, macs: [mac], rescue: { password } }], log });
    cleanups.push(() => conductor.close());
    const stateDir = join(machine.dir, 'state');
    const start = async (logName: string, extraArgs: string[] = []) => {
      const agent = startAgentProcess({
        apiUrl: conductor.url, disks: machine.disks, machineFile: machine.machineFile, listenPort: await findFreePort(),
        stateDir, logPath: join(machine.dir, logName), lookupTimeoutSeconds: 60, extraArgs,
      });
      cleanups.push(() => agent.stop());
      return agent;
    };

    const logFile = join(machine.dir, 'ingot-agent.log');
    const first = await start('agent-1.log', ['--log-file', logFile]);
    const report = await conductor.waitForRescue(NODE_UUID);
    expect(report.hashed).toBe(true);
    expect(conductor.state(NODE_UUID)).toBe('rescue');
    await until('the agent process to exit', () => first.exitStatus(), 30_000);
    expect(first.exitStatus()).toBe('code 0');
    const hash = readFileSync(join(stateDir, 'ipa-rescue-config', 'ipa-rescue-password'), 'utf8');
    expect(verify(password, hash.trim())).toBe(true);
    expect(statSync(join(stateDir, 'ipa-rescue-config', 'ipa-rescue-password')).mode & 0o777).toBe(0o600);
    const firstLog = readFileSync(first.logPath, 'utf8');
    expect(firstLog).toContain('rescue finalized: the API is stopped; log in as rescue');
    expect(firstLog).not.toContain(password);
    expect(firstLog).not.toContain(hash.trim());
    // The --log-file copy is written asynchronously: the exit flushes it first.
    expect(readFileSync(logFile, 'utf8')).toContain('rescue finalized: the API is stopped; log in as rescue');

    const again = await start('agent-2.log');
    await until('the restarted agent to exit', () => again.exitStatus(), 30_000);
    expect(again.exitStatus()).toBe('code 0');
    const againLog = readFileSync(again.logPath, 'utf8');
    expect(againLog).toContain('this node is rescued: not serving the API; log in as rescue');
    expect(againLog).not.toContain('agent API listening');
  });
});
