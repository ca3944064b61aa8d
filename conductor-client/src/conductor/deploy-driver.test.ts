import { pino } from 'pino';
import { describeFailure } from '@ingot/protocol/cli';
import { afterEach, describe, expect, it } from 'vitest';
import { IngotError, isIngotError } from '@ingot/protocol';
import { AgentClient } from '../index.ts';
import { FAKE_DISK_IDENTIFIER } from '../testing/fake-agent-handlers.ts';
import { createFakeAgentServer, type FakeAgentOptions, type FakeAgentServer } from '../testing/fake-agent-server.ts';
import { driveDeployment, type DeployProgress } from './deploy-driver.ts';
import type { DeployImage } from './image-info.ts';

const TOKEN = 'k'.repeat(43);
const NODE = { uuid: '0f8e3c6a-1111-4222-8333-944455556666', instance_info: { root_device: { name: '/dev/vda' } } };
const IMAGE: DeployImage = { url: 'http://192.0.2.1:8080/disk.img.zst', checksum: { algorithm: 'sha256', value: 'ab'.repeat(32) } };
const log = pino({ level: 'silent' });
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0)) await c(); });

const names = (requests: Array<{ method: string; body: unknown; query: Record<string, string> }>) =>
  requests.filter((r) => r.method === 'POST').map((r) => [(r.body as { name: string }).name, r.query.wait]);

async function deploy(agentOptions: FakeAgentOptions, image: DeployImage = IMAGE, beforeTearDown?: (agent: FakeAgentServer) => Promise<void>) {
  const agent = await createFakeAgentServer({ token: TOKEN, stepDurationMs: 80, imageBytes: 100 * 1024 * 1024, imageChunks: 8, ...agentOptions });
  const client = new AgentClient({ url: agent.url, token: TOKEN });
  cleanups.push(() => agent.close(), () => client.close());
  const events: DeployProgress[] = [];
  const outcome = await driveDeployment({
    client, node: NODE, ports: [], image, log, pollIntervalMs: 5, onProgress: (e) => events.push(e),
    ...(beforeTearDown ? { beforeTearDown: () => beforeTearDown(agent) } : {}),
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
    expect(events.map((e) => e.type).filter((t) => t !== 'progress')).toEqual(['steps', 'write-start', 'written', 'partition-uuids', 'powered-off']);
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
