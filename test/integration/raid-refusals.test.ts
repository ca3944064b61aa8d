/**
 * The software RAID steps on the real agent (sandbox mode: disk files; this
 * host's kernel has no md driver, so arrays are built in QEMU, see
 * test/e2e/raid.test.ts): every configuration that cannot be built is
 * refused in the execute_*_step request with a 400 naming the volume and the
 * reason, and no disk changes: not a byte, not a timestamp.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '@ingot/conductor-client';
import { isIngotError, type NodeInfo } from '@ingot/protocol';
import { startTestAgent, startTestConductor, until, type Cleanups } from '../support/paired-agent.ts';
import { createSimulatedMachine, type SimulatedMachine } from '../support/simulated-machine.ts';
import type { Agent } from '@ingot/agent';

const log = pino({ level: process.env.INGOT_TEST_LOG ?? 'silent' });
const cleanups: Cleanups = [];
const NODE_UUID = '1be26c0b-03f2-4d4e-9e8c-5f1b5c1b0a12';

/** What any write changes: the bytes, and the file's times even for a write of the same bytes. */
function diskState(path: string): string {
  const info = statSync(path, { bigint: true });
  return `${createHash('sha256').update(readFileSync(path)).digest('hex')} mtime ${info.mtimeNs} ctime ${info.ctimeNs}`;
}

const software = (fields: Record<string, unknown>) => ({ controller: 'software', ...fields });

describe('software RAID steps refuse what cannot be built, before any disk is touched', () => {
  let machine: SimulatedMachine;
  let client: AgentClient;
  let agent: Agent;
  let before: string[];
  let disks: string[];

  beforeAll(async () => {
    // Four used 128 MiB disks (GPT + ext4 each).
    machine = createSimulatedMachine({ disks: 4, sizeMiB: 128 });
    cleanups.push(() => machine.remove());
    disks = machine.disks;
    const conductor = await startTestConductor(machine, cleanups, log, { nodeUuid: NODE_UUID });
    agent = await startTestAgent(machine, conductor.url, cleanups, log);
    const beat = await until('the first heartbeat', () => conductor.heartbeats[0]);
    client = new AgentClient({ url: beat.callbackUrl, token: conductor.tokens[0]!, ca: beat.agentVerifyCa, log });
    cleanups.push(() => client.close());
    before = disks.map(diskState);
  });

  afterAll(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('lists the raid steps with IPA\'s priorities: delete_configuration and create_configuration (clean, 0), apply_configuration (deploy, 0, raid_config required)', async () => {
    const clean = (await client.getCleanSteps({ uuid: NODE_UUID }, [])).steps.generic_hardware_manager!;
    expect(clean.filter((s) => s.interface === 'raid').map((s) => [s.step, s.priority, s.abortable])).toEqual([['delete_configuration', 0, true], ['create_configuration', 0, true]]);
    const deploy = (await client.getDeploySteps({ uuid: NODE_UUID }, [])).steps.generic_hardware_manager!;
    const apply = deploy.find((s) => s.step === 'apply_configuration')!;
    expect(apply).toMatchObject({ interface: 'raid', priority: 0, argsinfo: { raid_config: { required: true }, delete_existing: { required: false } } });
    expect(apply).not.toHaveProperty('abortable');
  });

  // [what, logical disks, what the 400 says]: the reasons issue 12 names, each through both steps.
  const cases: Array<[string, unknown[], RegExp]> = [
    ['too few disks for the level', [software({ size_gb: 'MAX', raid_level: '6', volume_name: 'data', physical_disks: [{ name: 'DISK0' }, { name: 'DISK1' }, { name: 'DISK2' }] })],
      /logical_disks\[0\] \("data"\): RAID 6 needs at least 4 member disks, physical_disks lists 3/],
    ['a size that does not fit', [software({ size_gb: 1, raid_level: '1', volume_name: 'root' })],
      /logical_disks\[0\] \("root"\): 1 GiB of RAID 1 over 4 disks needs 1 GiB on each member, but DISK0 \(128 MiB\) has 126 MiB left after the boot partitions/],
    ['an unknown level', [software({ size_gb: 'MAX', raid_level: '7' })],
      /logical_disks\[0\]: raid_level "7" is not a software RAID level; use one of "0", "1", "1\+0" \(or "10"\), "5", "6"/],
    ['a hint that matches nothing', [software({ size_gb: 'MAX', raid_level: '1', physical_disks: [{ serial: 'NO-SUCH-DISK' }, { name: 'DISK1' }] })],
      /logical_disks\[0\]: physical_disks\[0\] \{"serial":"s== no-such-disk"\} matches no disk/],
    ['two volumes claiming one disk', [
      software({ size_gb: 'MAX', raid_level: '1', volume_name: 'root', physical_disks: [{ name: 'DISK0' }, { name: 'DISK1' }] }),
      software({ size_gb: 'MAX', raid_level: '1', volume_name: 'data', physical_disks: [{ name: 'DISK1' }, { name: 'DISK2' }] }),
    ], /logical_disks\[1\] \("data"\): physical_disks\[0\] .* matches only DISK1, and DISK1 is claimed by .*logical_disks\[0\] \("root"\)/],
    ['MAX not last on its disks', [software({ size_gb: 'MAX', raid_level: '1', volume_name: 'a' }), software({ size_gb: 'MAX', raid_level: '0', volume_name: 'b' })],
      /logical_disks\[1\] \("b"\): size_gb is MAX, as is .*logical_disks\[0\] \("a"\), and both use DISK0; only one volume on a disk can take the rest/],
  ];
  const executed = () => agent.runner.list().filter((command) => command.command_name.startsWith('execute_'));
  const named = (config: unknown[]) => JSON.parse(JSON.stringify(config).replace(/DISK(\d)/g, (_, i: string) => disks[Number(i)]!)) as unknown[];
  const pattern = (re: RegExp) => new RegExp(re.source.replace(/DISK(\d)/g, (_, i: string) => disks[Number(i)]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));

  it.each(cases)('refuses %s with a 400 from create_configuration (target_raid_config) and from apply_configuration (raid_config); no disk changed', async (_what, logicalDisks, reason) => {
    const config = { logical_disks: named(logicalDisks) };
    const node: NodeInfo = { uuid: NODE_UUID, target_raid_config: config };
    const create = await client.executeCleanStep({ interface: 'raid', step: 'create_configuration', args: {} }, node, [], null).catch((error: unknown) => error);
    expect(isIngotError(create, 'INGOT_RAID_CONFIG_INVALID'), String(create)).toBe(true);
    expect((create as { status?: number }).status).toBe(400);
    expect((create as Error).message).toMatch(pattern(reason));
    expect((create as Error).message).toContain('target_raid_config.logical_disks[');

    const apply = await client.executeDeployStep({ interface: 'raid', step: 'apply_configuration', args: { raid_config: config } }, { uuid: NODE_UUID }, [], null).catch((error: unknown) => error);
    expect(isIngotError(apply, 'INGOT_RAID_CONFIG_INVALID'), String(apply)).toBe(true);
    expect((apply as Error).message).toMatch(pattern(reason));
    expect((apply as Error).message).toContain('raid_config.logical_disks[');

    expect(executed(), 'no step started').toEqual([]);
    expect(disks.map(diskState)).toEqual(before);
  });

  it('refuses create_configuration on disks that hold partitions (a previous deployment) and a node without target_raid_config', async () => {
    const config = { logical_disks: [software({ size_gb: 'MAX', raid_level: '1', physical_disks: [{ name: disks[0] }, { name: disks[1] }] })] };
    const used = await client.executeCleanStep({ interface: 'raid', step: 'create_configuration' }, { uuid: NODE_UUID, target_raid_config: config }, [], null).catch((error: unknown) => error);
    expect(isIngotError(used, 'INGOT_RAID_CONFIG_INVALID') && used.message).toContain(`${disks[0]} already has 1 partition (a previous configuration or deployment); run delete_configuration`);
    const none = await client.executeCleanStep({ interface: 'raid', step: 'create_configuration' }, { uuid: NODE_UUID }, [], null).catch((error: unknown) => error);
    expect(isIngotError(none, 'INGOT_RAID_CONFIG_INVALID') && none.message).toContain('the node has no target_raid_config');
    const badArgs = await client.executeDeployStep({ interface: 'raid', step: 'apply_configuration', args: { raid_config: config, delete_existing: 'perhaps' } }, { uuid: NODE_UUID }, [], null).catch((error: unknown) => error);
    expect(isIngotError(badArgs, 'INGOT_RAID_CONFIG_INVALID') && badArgs.message).toContain('delete_existing must be true or false, got "perhaps"');
    expect(executed()).toEqual([]);
    expect(disks.map(diskState)).toEqual(before);
  });

  it('fails a valid configuration outside the ramdisk (no md driver, no partition nodes) without touching a disk', async () => {
    const config = { logical_disks: [software({ size_gb: 'MAX', raid_level: '1', volume_name: 'root', physical_disks: [{ name: disks[2] }, { name: disks[3] }] })] };
    const started = await client.executeDeployStep({ interface: 'raid', step: 'apply_configuration', args: { raid_config: config, delete_existing: false } }, { uuid: NODE_UUID }, [], null).catch((error: unknown) => error);
    // The disks hold partitions and delete_existing is false: refused up front.
    expect(isIngotError(started, 'INGOT_RAID_CONFIG_INVALID') && started.message).toContain('already has 1 partition');
    const { hardwareManagerVersion } = await client.getDeploySteps({ uuid: NODE_UUID }, []);
    const running = await client.executeDeployStep({ interface: 'raid', step: 'apply_configuration', args: { raid_config: config } }, { uuid: NODE_UUID }, [], hardwareManagerVersion);
    const done = await client.waitForCommand('execute_deploy_step', { id: running.id, intervalMs: 100, timeoutMs: 30_000 });
    expect(done.command_status).toBe('FAILED');
    expect(done.command_error).toMatchObject({ type: 'SoftwareRAIDError', error_code: 'INGOT_RAID_FAILED' });
    expect((done.command_error as { details: string }).details).toMatch(/software RAID arrays are built only inside the agent's ramdisk .* no disk was touched/);
    expect(disks.map(diskState)).toEqual(before);
  });
});
