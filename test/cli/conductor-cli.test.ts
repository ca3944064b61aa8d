/**
 * `ingot-conductor` as a user runs it: its own process, its exit status, what
 * it prints on stdout and stderr. The deploys pair it with a real agent
 * (in-process, sandbox mode, a simulated machine with 64 MiB disk files) and
 * the demo's image served from 127.0.0.1.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDemoImage, type DemoImage } from '../demo/disk-image.ts';
import { createImageServer, type ImageServer } from '../demo/image-server.ts';
import { startTestAgent, type Cleanups } from '../support/paired-agent.ts';
import { prerequisite } from '../support/prerequisite.ts';
import { SOURCE_NODE_ARGS } from '../support/run-source.ts';
import { startSpawned, type Spawned } from '../support/spawned.ts';
import { createSimulatedMachine } from '../support/simulated-machine.ts';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const log = pino({ level: process.env.INGOT_TEST_LOG ?? 'silent' });
const MAC = '52:54:00:12:34:56';
const children: ChildProcess[] = [];
const cleanups: Cleanups = [];
afterEach(async () => { for (const cleanup of cleanups.splice(0).reverse()) await cleanup(); });
afterAll(() => { for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });

type Conductor = Spawned;

/** The conductor's own process, from its sources as `npm run conductor` runs them. */
function conductor(...args: string[]): Conductor {
  const run = startSpawned(process.execPath, [...SOURCE_NODE_ARGS, join(root, 'conductor-client/src/cli/main.ts'), ...args], { cwd: root, env: { ...process.env, FORCE_COLOR: '0' } });
  children.push(run.child);
  return run;
}

async function listeningUrl(run: Conductor, where: 'stdout' | 'stderr'): Promise<string> {
  const until = Date.now() + 30_000;
  for (;;) {
    const found = /^listening on (\S+)/m.exec(run[where]())?.[1];
    if (found) return found;
    if (Date.now() > until || run.child.exitCode !== null) throw new Error(`the conductor did not listen; stdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('ingot-conductor\'s command line', () => {
  it('answers --help, deploy --help and --version with exit 0 on stdout', async () => {
    const [help, deployHelp, version] = [conductor('--help'), conductor('deploy', '--help'), conductor('--version')];
    expect(await help.exited).toBe(0);
    expect(help.stdout()).toMatch(/^Usage: ingot-conductor \[options\] \[command\]/);
    expect(help.stdout()).toMatch(/clean[\s\S]*deploy[\s\S]*rescue[\s\S]*Exit status:\n {2}0 +success\n {2}1 +the operation failed/);
    expect(await deployHelp.exited).toBe(0);
    expect(deployHelp.stdout()).toMatch(/^Usage: ingot-conductor deploy \[options\]/);
    for (const flag of ['--mac', '--listen', '--timeout', '--json', '--verbose', '--image-url', '--image-checksum', '--root-device']) expect(deployHelp.stdout()).toContain(flag);
    expect(await version.exited).toBe(0);
    expect(version.stdout()).toBe('0.1.0\n');
    for (const run of [help, deployHelp, version]) expect(run.stderr()).toBe('');
  }, 60_000);

  it('refuses an unknown option, a bad --listen, a bad --collect-logs and a missing --mac with one line naming the flag, exit 2', async () => {
    const cases = [
      [['clean', '--mac', MAC, '--colect-logs', 'never'], /^ingot-conductor clean: unknown option '--colect-logs' \(Did you mean --collect-logs\?\)$/],
      [['clean', '--mac', MAC, '--listen', 'localhost'], /^ingot-conductor clean: option '--listen <host:port>' argument 'localhost' is invalid\. expected host:port, \[v6 address\]:port or :port \(port 0 to 65535\), got "localhost"$/],
      [['clean', '--mac', MAC, '--collect-logs', 'sometimes'], /^ingot-conductor clean: option '--collect-logs <when>' argument 'sometimes' is invalid\. expected one of always, on-failure, never, got "sometimes"$/],
      [['deploy', '--image-url', 'http://127.0.0.1/i.img', '--image-checksum', `sha256:${'0'.repeat(64)}`], /^ingot-conductor deploy: required option '--mac <mac>' not specified$/],
    ] as const;
    const runs = cases.map(([args]) => conductor(...args));
    for (const [index, run] of runs.entries()) {
      const [args, pattern] = cases[index]!;
      expect(await run.exited, args.join(' ')).toBe(2);
      const [line, pointer, ...rest] = run.stderr().trimEnd().split('\n');
      expect(line, args.join(' ')).toMatch(pattern);
      expect(pointer).toMatch(/^Run ingot-conductor \w+ --help for usage\.$/);
      expect(rest).toEqual([]);
      expect(run.stdout()).toBe('');
    }
  }, 60_000);

  it('exits 1 when no agent comes before --timeout, saying what it waited for and what to try', async () => {
    const run = conductor('clean', '--mac', MAC, '--listen', '127.0.0.1:0', '--timeout', '1');
    expect(await run.exited).toBe(1);
    const lines = run.stderr().trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ingot-conductor: node [0-9a-f-]{36}: timed out after 1 s waiting for a lookup from the agent; try: start the agent with --api-url http:\/\/127\.0\.0\.1:\d+ \(ipa-api-url\) on a machine with the MAC 52:54:00:12:34:56$/);
  }, 60_000);
});

const missingTools = ['sgdisk', 'mkfs.ext4', 'zstd', 'blkid'].filter((tool) => {
  try { execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }); return false; } catch { return true; }
});
const tools = prerequisite('the conductor\'s deploy tests against a real agent', missingTools.length > 0 ? `${missingTools.join(', ')} not installed (apt-get install gdisk e2fsprogs zstd util-linux)` : null);

tools.describe('ingot-conductor deploy against a real agent', () => {
  let image: DemoImage;
  let images: ImageServer;
  let imageDir: string;
  beforeAll(async () => {
    imageDir = mkdtempSync(join(tmpdir(), 'ingot-cli-image-'));
    image = await createDemoImage({ dir: imageDir, sizeMiB: 24, randomMiB: 4, textMiB: 4 });
    images = await createImageServer({ files: { '/disk.img.zst': image.zstPath } });
  });
  afterAll(async () => {
    await images?.close();
    rmSync(imageDir, { recursive: true, force: true });
  });

  /** A simulated machine whose agent pairs with the spawned conductor; the image goes to its second disk by hint. */
  async function deploy(checksum: string, ...extra: string[]) {
    const machine = createSimulatedMachine({ disks: 2 });
    cleanups.push(() => machine.remove());
    const logsDir = mkdtempSync(join(tmpdir(), 'ingot-cli-logs-'));
    cleanups.push(() => rmSync(logsDir, { recursive: true, force: true }));
    const run = conductor('deploy', '--mac', machine.mac, '--listen', '127.0.0.1:0', '--poll-interval', '0.2', '--timeout', '50', '--logs-dir', logsDir,
      '--image-url', `${images.url}/disk.img.zst`, '--image-checksum', `sha256:${checksum}`, '--root-device', `name=${machine.disks[1]}`, ...extra);
    const url = await listeningUrl(run, extra.includes('--json') ? 'stderr' : 'stdout');
    await startTestAgent(machine, url, cleanups, log);
    return { run, machine, logsDir, status: await run.exited };
  }

  it('prints exactly one stderr line on a wrong checksum: the mismatch once, no JSON, no stack, what to try; exit 1', async () => {
    const wrong = '0'.repeat(64);
    const { run, logsDir, status } = await deploy(wrong);
    expect(status, run.stderr()).toBe(1);
    const lines = run.stderr().trimEnd().split('\n');
    expect(lines, run.stderr()).toHaveLength(1);
    const [line] = lines as [string];
    expect(line).toMatch(/^ingot-conductor: node [0-9a-f-]{36}: deploy\.write_image failed on the agent: Image checksum mismatch: /);
    expect(line.match(/checksum mismatch/gi)).toHaveLength(1);
    expect(line.match(new RegExp(wrong, 'g'))).toHaveLength(1);
    expect(line).toContain(image.zstSha256);
    expect(line).toContain(`; try: check --image-checksum against \`sha256sum\` of the file as served at ${images.url}/disk.img.zst`);
    expect(line).not.toMatch(/[{}]|"level"|\n\s+at /);
    // The ramdisk's logs were fetched before the token went, as Ironic does on failure.
    expect(readdirSync(logsDir)).toHaveLength(1);
    expect(run.stdout()).toMatch(/ramdisk logs at the end of the deploy \(\d+ bytes\) saved to /);
  }, 90_000);

  it('with --json prints one parseable object on stdout: node, state, steps with durations, root disk; exit 0', async () => {
    const { run, machine, status } = await deploy(image.zstSha256, '--json');
    expect(status, run.stderr()).toBe(0);
    const stdout = run.stdout().trimEnd();
    expect(stdout.split('\n')).toHaveLength(1);
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({
      command: 'deploy', outcome: 'succeeded', exit_status: 0, node: { state: 'active' },
      agent: { callback_url: expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+$/) },
      cleaning: { steps: [{ interface: 'deploy', step: 'erase_devices_metadata', priority: 99 }] },
      deploy: { image_url: `${images.url}/disk.img.zst`, device: machine.disks[1], served_bytes: image.zstBytes, powered_off: true },
      error: null,
    });
    expect(result.cleaning.steps[0].duration_s).toBeGreaterThan(0);
    expect(result.deploy.write_image_s).toBeGreaterThan(0);
    // A GPT image: whatever the agent reports, never a bare "0x00000000" for a person to read as a failure.
    expect(result.deploy.root_disk).toMatch(/^(GPT disk [0-9a-f-]{36}|no MBR disk identifier \(GPT image\))$/);
    expect(run.stderr()).toMatch(/deploy done: .*(GPT disk|no MBR disk identifier \(GPT image\))/);
  }, 90_000);
});

/**
 * deploy --raid-config against the real agent in sandbox mode (disk files):
 * this host's kernel has no md driver, so no array is built here (QEMU does
 * that, test/e2e); what is proven is the path through the conductor and the
 * agent's refusals, with the disks unchanged.
 */
tools.describe('ingot-conductor deploy --raid-config against a real agent', () => {
  const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

  /** Two used 128 MiB disks, the configuration written with their paths, the conductor spawned with --skip-cleaning (cleaning would change the disks). */
  async function deployRaid(logicalDisks: (disks: string[]) => unknown[], collectLogs = 'never') {
    const machine = createSimulatedMachine({ disks: 2, sizeMiB: 128 });
    cleanups.push(() => machine.remove());
    const before = machine.disks.map(sha256);
    const file = join(machine.dir, 'raid.json');
    writeFileSync(file, JSON.stringify({ logical_disks: logicalDisks(machine.disks) }, null, 2));
    const run = conductor('deploy', '--mac', machine.mac, '--listen', '127.0.0.1:0', '--poll-interval', '0.2', '--timeout', '50', '--skip-cleaning',
      '--collect-logs', collectLogs, '--logs-dir', join(machine.dir, 'logs'), '--image-url', 'http://127.0.0.1:9/never-fetched.img', '--image-checksum', `sha256:${'0'.repeat(64)}`, '--raid-config', file);
    await startTestAgent(machine, await listeningUrl(run, 'stdout'), cleanups, log);
    return { run, file, logsDir: join(machine.dir, 'logs'), status: await run.exited, before, after: () => machine.disks.map(sha256) };
  }

  it('exits 1 in one line naming the volume the agent refused, with the hint to fix it in the file; no disk changed', async () => {
    // 64 GiB of RAID 1 cannot fit on 128 MiB disks: the agent's plan refuses it with a 400 before touching anything.
    const { run, file, status, before, after } = await deployRaid((disks) => [
      { volume_name: 'root', is_root_volume: true, raid_level: '1', size_gb: 64, controller: 'software', physical_disks: [{ name: disks[0] }, { name: disks[1] }] },
    ]);
    expect(status, run.stderr()).toBe(1);
    const lines = run.stderr().trimEnd().split('\n');
    expect(lines, run.stderr()).toHaveLength(1);
    expect(lines[0]).toMatch(/^ingot-conductor: node [0-9a-f-]{36}: raid\.apply_configuration could not be started on the agent: Invalid RAID configuration: deploy\.execute_deploy_step: raid_config\.logical_disks\[0\] \("root"\): 64 GiB of RAID 1 /);
    expect(lines[0]!.endsWith(`; try: fix the logical disk named in the message in ${file}; see README: Software RAID`)).toBe(true);
    expect(lines[0]!.match(/Invalid RAID configuration/g)).toHaveLength(1);
    expect(run.stdout()).toContain('deploy step raid.apply_configuration started');
    expect(run.stdout()).not.toContain('write_image');
    expect(after()).toEqual(before);
  }, 90_000);

  it('exits 1 with the agent\'s own reason when a configuration that fits meets a machine without the md driver; no disk changed', async () => {
    const { run, status, logsDir, before, after } = await deployRaid((disks) => [
      { volume_name: 'root', raid_level: '1', size_gb: 'MAX', controller: 'software', physical_disks: [{ name: disks[0] }, { name: disks[1] }] },
    ], 'on-failure');
    expect(status, run.stderr()).toBe(1);
    const lines = run.stderr().trimEnd().split('\n');
    expect(lines, run.stderr()).toHaveLength(1);
    const [archive] = readdirSync(logsDir);
    expect(lines[0]).toMatch(/^ingot-conductor: node [0-9a-f-]{36}: raid\.apply_configuration failed on the agent: Software RAID operation failed: apply_configuration: software RAID arrays are built only inside the agent's ramdisk .*no disk was touched; try: /);
    expect(lines[0]!.endsWith(`; try: see mdadm's output in the ramdisk logs in ${join(logsDir, archive!)}`)).toBe(true);
    expect(run.stdout()).not.toContain('write_image');
    expect(after()).toEqual(before);
  }, 90_000);
});
