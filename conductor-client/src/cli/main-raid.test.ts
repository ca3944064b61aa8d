/**
 * `ingot-conductor deploy --raid-config FILE` against the fake agent taught
 * raid.apply_configuration: what a person reads, what --json carries, and
 * what the agent receives.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createFakeAgentServer, pairFakeAgent, type FakeAgentOptions } from '../testing.ts';
import { fakeRaidAgentOptions } from '../conductor/fixtures/fake-raid-agent.ts';
import { parseCliArgs } from './args.ts';
import { runCli, type CliIo } from './main.ts';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const EXAMPLE = join(ROOT, 'examples/raid-two-volumes.json');
const MAC = '52:54:00:0a:0b:0d';
const SHA = 'ef'.repeat(32);
const IMAGE_URL = 'http://127.0.0.1:9/images/disk.img.zst';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0)) await c(); });

function capture(): CliIo & { lines: string[]; errors: string[]; writes: string[]; url: (where: string[]) => Promise<string> } {
  const lines: string[] = [];
  const errors: string[] = [];
  const writes: string[] = [];
  return {
    lines, errors, writes,
    out: (line) => lines.push(line), err: (line) => errors.push(line), write: (text) => writes.push(text),
    logStream: new Writable({ write(_chunk, _enc, done) { done(); } }),
    url: async (where) => {
      for (;;) {
        const found = where.map((l) => /^listening on (\S+)/.exec(l)?.[1]).find(Boolean);
        if (found) return found;
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

/** Runs `deploy --raid-config <file>` with the fake agent paired to it. */
async function deployOntoRaid(agentOptions: FakeAgentOptions, file: string, ...extra: string[]) {
  const io = capture();
  const agent = await createFakeAgentServer(agentOptions);
  cleanups.push(() => agent.close());
  const run = runCli(['deploy', '--mac', MAC, '--listen', '127.0.0.1:0', '--poll-interval', '0.01', '--collect-logs', 'never',
    '--image-url', IMAGE_URL, '--image-checksum', `sha256:${SHA}`, '--raid-config', file, ...extra], io);
  const pairing = await pairFakeAgent({ apiUrl: await io.url(extra.includes('--json') ? io.errors : io.lines), agent, macs: [MAC] });
  await pairing.heartbeat();
  return { io, agent, status: await run };
}

const posted = (agent: Awaited<ReturnType<typeof createFakeAgentServer>>) => agent.requests.filter((r) => r.method === 'POST')
  .map((r) => r.body as { name: string; params: { node?: Record<string, unknown>; step?: { interface: string; step: string; args: Record<string, unknown> } } });

describe('ingot-conductor deploy --raid-config', () => {
  it('cleans, builds the arrays with apply_configuration, writes the image onto the root volume, says where the resync stands, exits 0', async () => {
    // A resync far slower than the deploy: it is still under way when the image is in.
    const { io, agent, status } = await deployOntoRaid(fakeRaidAgentOptions({ stepDurationMs: 150, resyncSampleMs: 60_000 }), EXAMPLE);
    expect(status, io.errors.join('\n')).toBe(0);
    const config = JSON.parse(readFileSync(EXAMPLE, 'utf8'));
    // Ironic's node dict carries target_raid_config on every command that carries the node, cleaning included.
    const withNode = posted(agent).filter((body) => body.params.node);
    expect(withNode.map((body) => body.name)).toEqual([
      'clean.get_clean_steps', 'clean.execute_clean_step', 'deploy.get_deploy_steps', 'deploy.execute_deploy_step', 'deploy.execute_deploy_step',
    ]);
    for (const body of withNode) expect(body.params.node!.target_raid_config, body.name).toEqual(config);
    const steps = withNode.filter((body) => body.name === 'deploy.execute_deploy_step').map((body) => body.params.step!);
    expect(steps.map((step) => `${step.interface}.${step.step}`)).toEqual(['raid.apply_configuration', 'deploy.write_image']);
    expect(steps[0]!.args).toEqual({ raid_config: config, delete_existing: true });
    // No --root-device: no hint sent; the agent chooses the root volume.
    expect(withNode.every((body) => (body.params.node!.instance_info as Record<string, unknown>).root_device === undefined)).toBe(true);

    const text = io.lines.join('\n');
    expect(text).toMatch(/cleaning done: 1 step/);
    expect(text).toContain(`deploy step raid.apply_configuration started (${EXAMPLE})`);
    expect(io.lines).toContain('  creating arrays: 2/4 steps (/dev/md0 "root" RAID 1)');
    expect(io.lines).toContain('  creating arrays: 3/4 steps (/dev/md1 "data" RAID 1+0)');
    expect(text).toMatch(/deploy step raid\.apply_configuration done in [0-9.]+ s: "root" RAID 1 64 GiB; "data" RAID 1\+0 MAX\n/);
    // After the image, once: where the resync stood, as the agent's status held it.
    const after = io.lines.slice(io.lines.findIndex((l) => l.startsWith('deploy step deploy.write_image done')) + 1);
    expect(after[0]).toBe('  once the image was written: software RAID resync: 0/204800 KiB (/dev/md0 (root): resync 0%; /dev/md1 (data): resync 0%)');
    // The bar is the image's alone.
    expect(io.writes.length).toBeGreaterThan(0);
    expect(io.writes.every((w) => w.startsWith('  image '))).toBe(true);
    expect(text).toMatch(/deploy done: image written and verified in .*; \/dev\/md0: MBR disk identifier/);
  });

  it('carries the agent\'s RAID result and the resync in --json, as the agent returned them', async () => {
    const { io, agent, status } = await deployOntoRaid(fakeRaidAgentOptions({ resyncSampleMs: 5 }), EXAMPLE, '--json', '--skip-cleaning');
    expect(status, io.errors.join('\n')).toBe(0);
    expect(io.lines).toHaveLength(1);
    const result = JSON.parse(io.lines[0]!);
    const applied = agent.commands.find((c) => (c.command_result as { deploy_step?: { step?: string } } | null)?.deploy_step?.step === 'apply_configuration');
    expect(result.deploy.raid.result).toEqual((applied!.command_result as { deploy_result: unknown }).deploy_result);
    expect(result.deploy.raid.apply_configuration_s).toBeGreaterThan(0);
    // The resync as read once the image was in: the agent's progress shape, one item per logical disk.
    expect(result.deploy.raid.resync.items).toHaveLength(result.deploy.raid.result.logical_disks.length);
    expect(result.deploy.raid.resync.stage).toMatch(/^software RAID (resync|in sync)$/);
    expect(result.deploy.device).toBe('/dev/md0');
    expect(io.errors.join('\n')).toMatch(/deploy step deploy\.write_image done in .*\n {2}once the image was written: software RAID (resync|in sync)/);
  });

  it('exits 1 in one line naming the volume and the file to fix when the agent refuses the configuration, having written nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ingot-cli-raid-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'raid5-on-two.json');
    writeFileSync(file, JSON.stringify({ logical_disks: [{ volume_name: 'data', raid_level: '5', size_gb: 'MAX', controller: 'software', physical_disks: [{ name: '/dev/sdc' }, { name: '/dev/sdd' }] }] }));
    const { io, agent, status } = await deployOntoRaid(fakeRaidAgentOptions(), file, '--skip-cleaning');
    expect(status).toBe(1);
    expect(io.errors).toHaveLength(1);
    const line = io.errors[0]!;
    expect(line).toMatch(/^ingot-conductor: node [0-9a-f-]{36}: raid\.apply_configuration could not be started on the agent: Invalid RAID configuration: deploy\.execute_deploy_step: logical_disks\[0\] \("data"\): RAID 5 needs at least 3 member disks, physical_disks lists 2; try: /);
    expect(line.endsWith(`; try: fix the logical disk named in the message in ${file}; see README: Software RAID`)).toBe(true);
    expect(line.match(/Invalid RAID configuration/g)).toHaveLength(1);
    expect(posted(agent).map((body) => body.params.step?.step).filter(Boolean)).toEqual(['apply_configuration']);
    expect(io.lines.join('\n')).not.toContain('write_image');
  });

  it('exits 1 before writing anything when the agent offers no apply_configuration, saying what to do', async () => {
    const { io, agent, status } = await deployOntoRaid({}, EXAMPLE, '--skip-cleaning');
    expect(status).toBe(1);
    expect(io.errors).toEqual([expect.stringMatching(/^ingot-conductor: node [0-9a-f-]{36}: raid\.apply_configuration: No HardwareManager found to handle method: the agent offers no raid\.apply_configuration deploy step \(it lists deploy\.write_image, deploy\.erase_devices_metadata\): it cannot build software RAID; nothing was written; try: boot a ramdisk whose agent offers the step named above \(Ingot's agent offers raid\.apply_configuration\), or deploy without --raid-config$/)]);
    expect(posted(agent).map((body) => body.name)).toEqual(['deploy.get_deploy_steps']);
  });
});

describe('README: Software RAID', () => {
  const section = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n## Software RAID\n')[1]!.split('\n## ')[0]!;

  it('shows the example file as it is', () => {
    const json = /```json\n([\s\S]*?)```/.exec(section)?.[1];
    expect(JSON.parse(json!)).toEqual(JSON.parse(readFileSync(EXAMPLE, 'utf8')));
  });

  it('gives a command the conductor accepts, from the repository\'s root', async () => {
    const line = /```sh\n([\s\S]*?)```/.exec(section)![1]!.replace(/\\\n\s*/g, '').trim();
    const words = line.replace(/^npm run conductor -- /, '').replace('sha256:<hex>', `sha256:${SHA}`).split(/\s+/)
      .map((word) => (word === 'examples/raid-two-volumes.json' ? EXAMPLE : word));
    expect(await parseCliArgs(words)).toMatchObject({ kind: 'deploy', raidConfig: { path: EXAMPLE } });
  });
});
