import { pino } from 'pino';
import { describeFailure } from '@ingot/protocol/cli';
import { afterEach, describe, expect, it } from 'vitest';
import { IngotError, isIngotError } from '@ingot/protocol';
import { AgentClient } from '../index.ts';
import { FAKE_DISK_IDENTIFIER } from '../testing/fake-agent-handlers.ts';
import { createFakeAgentServer, type FakeAgentOptions, type FakeAgentServer } from '../testing/fake-agent-server.ts';
import { driveDeployment, type DeployProgress, type DriveDeploymentOptions } from './deploy-driver.ts';
import { fakeRaidAgentOptions } from './fixtures/fake-raid-agent.ts';
import type { TargetRaidConfig } from './raid-config-file.ts';
import type { DeployImage } from './image-info.ts';

const TOKEN = 'k'.repeat(43);
const NODE = { uuid: '0f8e3c6a-1111-4222-8333-944455556666', instance_info: { root_device: { name: '/dev/vda' } } };
const IMAGE: DeployImage = { url: 'http://192.0.2.1:8080/disk.img.zst', checksum: { algorithm: 'sha256', value: 'ab'.repeat(32) } };
const log = pino({ level: 'silent' });
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0)) await c(); });

const names = (requests: Array<{ method: string; body: unknown; query: Record<string, string> }>) =>
  requests.filter((r) => r.method === 'POST').map((r) => [(r.body as { name: string }).name, r.query.wait]);

async function deploy(agentOptions: FakeAgentOptions, image: DeployImage = IMAGE, beforeTearDown?: (agent: FakeAgentServer) => Promise<void>, more: Partial<DriveDeploymentOptions> = {}) {
  const agent = await createFakeAgentServer({ token: TOKEN, stepDurationMs: 80, imageBytes: 100 * 1024 * 1024, imageChunks: 8, ...agentOptions });
  const client = new AgentClient({ url: agent.url, token: TOKEN });
  cleanups.push(() => agent.close(), () => client.close());
  const events: DeployProgress[] = [];
  const outcome = await driveDeployment({
    client, node: NODE, ports: [], image, log, pollIntervalMs: 5, onProgress: (e) => events.push(e),
    ...(beforeTearDown ? { beforeTearDown: () => beforeTearDown(agent) } : {}),
    ...more,
  })
    .then((report) => ({ report, error: undefined as unknown }), (error: unknown) => ({ report: undefined, error }));
  return { agent, events, ...outcome };
}

describe('driveDeployment', () => {
  it('sends Ironic\'s whole-disk sequence: get_deploy_steps, write_image with image_info, polls, get_partition_uuids, power_off', async () => {
    const { agent, report, error } = await deploy({});
    expect(error).toBeUndefined();
    expect(names(agent.requests)).toEqual([
      ['deploy.get_deploy_steps', 'true'], ['deploy.execute_deploy_step', 'false'], ['standby.get_partition_uuids', 'true'], ['standby.power_off', 'false'],
    ]);
    const execute = agent.requests.find((r) => (r.body as { name?: string } | undefined)?.name === 'deploy.execute_deploy_step')!;
    expect((execute.body as { params: unknown }).params).toEqual({
      step: {
        interface: 'deploy', step: 'write_image',
        args: {
          image_info: {
            id: 'disk.img.zst', urls: [IMAGE.url], disk_format: 'raw', container_format: 'bare', stream_raw_images: true,
            os_hash_algo: 'sha256', os_hash_value: 'ab'.repeat(32), node_uuid: NODE.uuid,
          },
          configdrive: null,
        },
      },
      node: NODE, ports: [], deploy_version: { FakeHardwareManager: '1.0' },
    });
    expect(agent.requests.filter((r) => r.method === 'GET').length).toBeGreaterThan(0);
    expect(report).toMatchObject({ rootUuid: FAKE_DISK_IDENTIFIER, partitionUuids: { 'root uuid': FAKE_DISK_IDENTIFIER }, poweredOff: true });
    expect(report?.deployResult).toEqual({ result: `prepare_image: image (disk.img.zst) written to device /dev/fake0 root_uuid=${FAKE_DISK_IDENTIFIER}` });
  });

  it('passes on the agent\'s progress samples, done never decreasing, total known, ending complete', async () => {
    const { events, report } = await deploy({});
    const samples = events.flatMap((e) => (e.type === 'progress' && e.progress ? [e.progress] : []));
    expect(samples.length).toBeGreaterThanOrEqual(3);
    for (const [index, sample] of samples.entries()) {
      expect(sample).toMatchObject({ stage: 'writing image', unit: 'bytes', total: 100 * 1024 * 1024 });
      if (index > 0) expect(sample.done).toBeGreaterThanOrEqual(samples[index - 1]!.done!);
    }
    expect(report?.lastProgress).toMatchObject({ done: 100 * 1024 * 1024 });
    expect(events.map((e) => e.type).filter((t) => t !== 'progress')).toEqual(['steps', 'step-start', 'step-done', 'partition-uuids', 'powered-off']);
    expect(events.find((e) => e.type === 'step-start')).toMatchObject({ step: { interface: 'deploy', step: 'write_image' }, index: 0, total: 1 });
    expect(report?.raid).toBeUndefined();
  });

  it('fails as deploy failed with the agent\'s error named, and neither asks for partition uuids nor powers off', async () => {
    const { agent, error } = await deploy({
      handlers: { 'deploy.execute_deploy_step': () => { throw new IngotError('INGOT_IMAGE_CHECKSUM', { details: 'sha256 of disk.img.zst is 00ff…, expected ab…' }); } },
    });
    expect(isIngotError(error, 'INGOT_DEPLOYMENT_FAILED')).toBe(true);
    expect(describeFailure(error)).toContain('deploy.write_image failed on the agent');
    expect(describeFailure(error)).toContain('sha256 of disk.img.zst is 00ff');
    expect(isIngotError((error as Error).cause, 'INGOT_IMAGE_CHECKSUM')).toBe(true);
    expect(names(agent.requests).map(([name]) => name)).toEqual(['deploy.get_deploy_steps', 'deploy.execute_deploy_step']);
  });

  it('fails naming write_image when the agent has no manager for it', async () => {
    const { error } = await deploy({ deploySteps: [] });
    expect(isIngotError(error, 'INGOT_DEPLOYMENT_FAILED')).toBe(true);
    expect(describeFailure(error)).toContain('deploy.write_image failed on the agent');
    expect(describeFailure(error)).toContain('no manager handles write_image');
  });

  it('fails naming write_image when the agent refuses the command with an HTTP error', async () => {
    const { error } = await deploy({ handlers: { 'deploy.execute_deploy_step': undefined as never } });
    expect(isIngotError(error, 'INGOT_DEPLOYMENT_FAILED')).toBe(true);
    expect(describeFailure(error)).toMatch(/deploy\.write_image could not be started on the agent: .*Unknown command: deploy\.execute_deploy_step/);
  });

  it('fails when the agent does not echo the deploy step', async () => {
    const { error } = await deploy({ handlers: { 'deploy.execute_deploy_step': () => ({ deploy_result: null }) } });
    expect(describeFailure(error)).toContain('does not echo the step');
  });

  it('re-fetches the deploy steps once after a version mismatch and re-runs write_image', async () => {
    let calls = 0;
    const { agent, report } = await deploy({
      handlers: { 'deploy.get_deploy_steps': () => ({ deploy_steps: { FakeHardwareManager: [{ step: 'write_image', priority: 0, interface: 'deploy', reboot_requested: false }] }, hardware_manager_version: { FakeHardwareManager: calls++ === 0 ? '0.9' : '1.0' } }) },
    });
    expect(report?.rootUuid).toBe(FAKE_DISK_IDENTIFIER);
    expect(names(agent.requests).map(([name]) => name).filter((n) => n?.startsWith('deploy.'))).toEqual([
      'deploy.get_deploy_steps', 'deploy.execute_deploy_step', 'deploy.get_deploy_steps', 'deploy.execute_deploy_step',
    ]);
  });

  it('runs beforeTearDown after get_partition_uuids and before power_off, and never when write_image failed', async () => {
    const seenAtTearDown: unknown[] = [];
    const { agent } = await deploy({}, IMAGE, async (fake) => { seenAtTearDown.push(names(fake.requests).map(([name]) => name)); });
    expect(seenAtTearDown).toEqual([['deploy.get_deploy_steps', 'deploy.execute_deploy_step', 'standby.get_partition_uuids']]);
    expect(names(agent.requests).at(-1)).toEqual(['standby.power_off', 'false']);

    const failed = await deploy({ handlers: { 'deploy.execute_deploy_step': () => { throw new Error('disk vanished'); } } }, IMAGE, async () => { seenAtTearDown.push('again'); });
    expect(failed.error).toBeDefined();
    expect(seenAtTearDown).toHaveLength(1);
  });

  it('still reports the deploy when the agent refuses power_off, as Ironic only logs it, and says it was not powered off', async () => {
    const { agent, report } = await deploy({ handlers: { 'standby.power_off': undefined as never } });
    expect(report).toMatchObject({ rootUuid: FAKE_DISK_IDENTIFIER, poweredOff: false });
    expect(names(agent.requests).at(-1)).toEqual(['standby.power_off', 'false']);
  });
});

/** A mixed chassis: RAID 1 root on two SSDs by name, RAID 1+0 data on the rotational disks. */
const RAID: TargetRaidConfig = {
  logical_disks: [
    { volume_name: 'root', is_root_volume: true, raid_level: '1', size_gb: 8, controller: 'software', physical_disks: [{ name: '/dev/vda' }, { name: '/dev/vdb' }] },
    { volume_name: 'data', raid_level: '1+0', size_gb: 'MAX', controller: 'software', physical_disks: [{ rotational: true }, { rotational: true }, { rotational: true }, { rotational: true }] },
  ],
};
const RAID_NODE = { uuid: NODE.uuid, target_raid_config: RAID };
const stepsSent = (agent: FakeAgentServer) => agent.requests.filter((r) => (r.body as { name?: string } | undefined)?.name === 'deploy.execute_deploy_step')
  .map((r) => (r.body as { params: { step: { interface: string; step: string; args: Record<string, unknown> }; node: unknown } }).params);

describe('driveDeployment with a RAID configuration', () => {
  it('runs raid.apply_configuration with the configuration and delete_existing before write_image, and reports what the agent built', async () => {
    const { agent, events, report, error } = await deploy(fakeRaidAgentOptions({ stepDurationMs: 80 }), IMAGE, undefined, { node: RAID_NODE, raidConfig: RAID });
    expect(error).toBeUndefined();
    expect(names(agent.requests).map(([name]) => name)).toEqual([
      'deploy.get_deploy_steps', 'deploy.execute_deploy_step', 'deploy.execute_deploy_step', 'standby.get_partition_uuids', 'standby.power_off',
    ]);
    const [apply, write] = stepsSent(agent);
    expect(apply!.step).toEqual({ interface: 'raid', step: 'apply_configuration', args: { raid_config: RAID, delete_existing: true } });
    expect(write!.step).toMatchObject({ interface: 'deploy', step: 'write_image' });
    // Ironic's node carries target_raid_config on every command; no root device hint unless one was given.
    for (const params of [apply!, write!]) expect(params.node).toEqual(RAID_NODE);
    // The result is the agent's, as it returned it (the raid_config as given, from Ingot's agent and IPA).
    const applied = agent.commands.find((c) => (c.command_result as { deploy_step?: { step?: string } } | null)?.deploy_step?.step === 'apply_configuration');
    expect(report?.raid?.result).toEqual((applied?.command_result as { deploy_result: unknown }).deploy_result);
    expect(report?.raid?.durationMs).toBeGreaterThan(0);
    // Without root device hints the agent wrote onto the volume marked is_root_volume.
    expect(report?.device).toBe(`/dev/md${RAID.logical_disks.findIndex((disk) => (disk as { is_root_volume?: boolean }).is_root_volume)}`);
    expect(events.filter((e) => e.type === 'step-start' || e.type === 'step-done').map((e) => [e.type, (e as { step: { step: string } }).step.step, (e as { index: number }).index, (e as { total: number }).total]))
      .toEqual([['step-start', 'apply_configuration', 0, 2], ['step-done', 'apply_configuration', 0, 2], ['step-start', 'write_image', 1, 2], ['step-done', 'write_image', 1, 2]]);
  });

  it('passes on apply_configuration\'s progress while it runs, then where the resync stands once the image is written', async () => {
    // A resync far slower than the deploy: it is still at its first sample when the image is in.
    const { agent, events, report } = await deploy(fakeRaidAgentOptions({ stepDurationMs: 200, resyncSampleMs: 60_000 }), IMAGE, undefined, { node: RAID_NODE, raidConfig: RAID });
    const applyEvents = events.filter((e) => e.type === 'progress' || e.type === 'step-done');
    const writeDone = applyEvents.findIndex((e) => e.type === 'step-done' && e.step.step === 'write_image');
    const during = applyEvents.slice(0, applyEvents.findIndex((e) => e.type === 'step-done'))
      .flatMap((e) => (e.type === 'progress' && e.step.step === 'apply_configuration' && e.progress ? [e.progress.stage] : []));
    expect(during).toContain('partitioning RAID members');
    expect(during).toContain('creating arrays');
    const after = applyEvents.slice(writeDone + 1);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ type: 'progress', step: { step: 'apply_configuration' } });
    // What the agent's command status held then, item for item.
    const reader = new AgentClient({ url: agent.url, token: TOKEN });
    cleanups.push(() => reader.close());
    const applied = (await reader.getCommandsStatus()).find((c) => c.command_name === 'execute_deploy_step');
    expect(report?.raid?.resync).toEqual(applied?.command_progress);
    expect(report?.raid?.resync?.items?.map((item) => item.stage)).toEqual(['resync', 'resync']);
    // The image's last sample, not the RAID build's: what the CLI reads the served bytes from.
    expect(report?.lastProgress).toMatchObject({ stage: 'writing image', unit: 'bytes' });
    expect(report?.lastProgress?.done).toBe(report?.lastProgress?.total);
  });

  it('fails before anything is written when the agent offers no apply_configuration, naming the step and what it lists', async () => {
    const { agent, error } = await deploy({}, IMAGE, undefined, { node: RAID_NODE, raidConfig: RAID });
    expect(isIngotError(error, 'INGOT_DEPLOYMENT_FAILED')).toBe(true);
    expect(isIngotError((error as Error).cause, 'INGOT_STEP_NOT_FOUND')).toBe(true);
    expect(describeFailure(error)).toMatch(/raid\.apply_configuration: .*the agent offers no raid\.apply_configuration deploy step \(it lists deploy\.write_image, deploy\.erase_devices_metadata\): it cannot build software RAID; nothing was written/);
    expect(names(agent.requests).map(([name]) => name)).toEqual(['deploy.get_deploy_steps']);
  });

  it('fails with the agent\'s 400 naming the volume when it refuses the configuration, and never sends write_image', async () => {
    const tooFew = { logical_disks: [RAID.logical_disks[0], { ...(RAID.logical_disks[1] as object), raid_level: '5', physical_disks: [{ name: '/dev/vdc' }, { name: '/dev/vdd' }] }] };
    const { agent, error } = await deploy(fakeRaidAgentOptions(), IMAGE, undefined, { node: { uuid: NODE.uuid, target_raid_config: tooFew }, raidConfig: tooFew });
    expect(isIngotError(error, 'INGOT_DEPLOYMENT_FAILED')).toBe(true);
    expect(isIngotError((error as Error).cause, 'INGOT_RAID_CONFIG_INVALID')).toBe(true);
    expect(describeFailure(error)).toMatch(/^Deploy step failed: raid\.apply_configuration could not be started on the agent: .*logical_disks\[1\] \("data"\): RAID 5 needs at least 3 member disks, physical_disks lists 2$/);
    expect(stepsSent(agent).map((params) => params.step.step)).toEqual(['apply_configuration']);
  });

  it('stops at apply_configuration when it fails on the agent, the agent\'s error as the cause', async () => {
    const options = fakeRaidAgentOptions();
    const { agent, error } = await deploy({
      ...options,
      handlers: {
        'deploy.execute_deploy_step': (params, context) => {
          if ((params.step as { step: string }).step === 'apply_configuration') throw new IngotError('INGOT_COMMAND_FAILED', { details: 'mdadm: cannot open /dev/vdb1: Device or resource busy' });
          return options.handlers!['deploy.execute_deploy_step']!(params, context);
        },
      },
    }, IMAGE, undefined, { node: RAID_NODE, raidConfig: RAID });
    expect(describeFailure(error)).toBe('Deploy step failed: raid.apply_configuration failed on the agent: Command execution failed: mdadm: cannot open /dev/vdb1: Device or resource busy');
    expect(stepsSent(agent).map((params) => params.step.step)).toEqual(['apply_configuration']);
    expect(names(agent.requests).map(([name]) => name)).not.toContain('standby.power_off');
  });

  it('re-fetches the deploy steps after a version mismatch of apply_configuration and runs it again, then write_image', async () => {
    let calls = 0;
    const options = fakeRaidAgentOptions();
    const { agent, report } = await deploy({
      ...options,
      handlers: {
        ...options.handlers,
        'deploy.get_deploy_steps': () => ({ deploy_steps: { FakeHardwareManager: options.deploySteps }, hardware_manager_version: { FakeHardwareManager: calls++ === 0 ? '0.9' : '1.0' } }),
      },
    }, IMAGE, undefined, { node: RAID_NODE, raidConfig: RAID });
    expect(report?.raid).toBeDefined();
    expect(names(agent.requests).map(([name]) => name).filter((n) => n?.startsWith('deploy.'))).toEqual([
      'deploy.get_deploy_steps', 'deploy.execute_deploy_step', 'deploy.get_deploy_steps', 'deploy.execute_deploy_step', 'deploy.execute_deploy_step',
    ]);
    expect(stepsSent(agent).map((params) => params.step.step)).toEqual(['apply_configuration', 'apply_configuration', 'write_image']);
  });

  it('leaves a root device hint to the agent: it is sent as given and the image goes where the agent says', async () => {
    const node = { ...RAID_NODE, instance_info: { root_device: { name: '/dev/vde' } } };
    const { agent, report } = await deploy(fakeRaidAgentOptions(), IMAGE, undefined, { node, raidConfig: RAID });
    expect(stepsSent(agent).every((params) => JSON.stringify(params.node) === JSON.stringify(node))).toBe(true);
    expect(report?.device).toBe('/dev/fake0');
  });
});
