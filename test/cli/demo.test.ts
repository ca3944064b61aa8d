/**
 * The demo as a user runs it (`npm run demo`, here its node process itself,
 * so that signals reach it as Ctrl-C does): it refuses a bad image size in
 * one line before it creates anything, and a Ctrl-C during the image build
 * or during the deploy leaves nothing behind (the image, the machine's disks,
 * the agent's state; the agent and the build's tools stopped) and exits 130.
 * Each run gets a TMPDIR of its own, which must hold no `ingot-*` afterwards.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { prerequisite } from '../support/prerequisite.ts';
import { SOURCE_NODE_ARGS } from '../support/run-source.ts';
import { startSpawned, type Spawned } from '../support/spawned.ts';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Demo extends Spawned {
  tmp: string;
}

/** The demo's own node process (tsx loaded in it, as `npm run demo` does), with TMPDIR a fresh directory. */
function startDemo(env: Record<string, string>, args: string[] = []): Demo {
  const tmp = mkdtempSync(join(tmpdir(), 'demo-test-'));
  dirs.push(tmp);
  const run = startSpawned(process.execPath, [...SOURCE_NODE_ARGS, join(root, 'test/demo/run-demo.ts'), ...args], {
    cwd: root, env: { ...process.env, TMPDIR: tmp, FORCE_COLOR: '0', INGOT_DEMO_KEEP: '', ...env },
  });
  children.push(run.child);
  return { ...run, tmp };
}

/** What the demo left in its TMPDIR (tsx's own cache directory aside). */
const leftIn = (tmp: string) => readdirSync(tmp).filter((name) => name.startsWith('ingot-'));

/** Processes whose command line names the directory: the build's tools (mkfs.ext4, zstd), the agent. */
function processesUsing(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (args.includes(dir)) found.push(`${pid} ${args}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function waitFor(demo: Demo, pattern: RegExp, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!pattern.test(demo.stdout())) {
    if (Date.now() > until || demo.child.exitCode !== null) throw new Error(`no ${pattern} within ${ms} ms; stdout:\n${demo.stdout()}\nstderr:\n${demo.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the demo checks its input before it creates anything', () => {
  it('refuses each bad INGOT_DEMO_IMAGE_MIB, and a bad --image-mib, with one line naming it and the range, exit 2', async () => {
    const cases = [
      [{ INGOT_DEMO_IMAGE_MIB: 'abc' }, [], /^demo: INGOT_DEMO_IMAGE_MIB: expected a whole number from 16 to 3072, got "abc" \(MiB of the image, which must fit the 4 GiB simulated disk\)$/],
      [{ INGOT_DEMO_IMAGE_MIB: '0' }, [], /^demo: INGOT_DEMO_IMAGE_MIB: expected a whole number from 16 to 3072, got "0" /],
      [{ INGOT_DEMO_IMAGE_MIB: '-5' }, [], /^demo: INGOT_DEMO_IMAGE_MIB: expected a whole number from 16 to 3072, got "-5" /],
      [{ INGOT_DEMO_IMAGE_MIB: '1.5' }, [], /^demo: INGOT_DEMO_IMAGE_MIB: expected a whole number from 16 to 3072, got "1\.5" /],
      [{ INGOT_DEMO_IMAGE_MIB: '99999' }, [], /^demo: INGOT_DEMO_IMAGE_MIB: expected a whole number from 16 to 3072, got "99999" /],
      [{}, ['--image-mib', '8'], /^demo: option '--image-mib <mib>' argument '8' is invalid\. expected a whole number from 16 to 3072, got "8"$/],
    ] as const;
    const runs = cases.map(([env, args]) => startDemo({ ...env }, [...args]));
    for (const [index, demo] of runs.entries()) {
      const [env, args, pattern] = cases[index]!;
      const what = JSON.stringify({ env, args });
      expect(await demo.exited, what).toBe(2);
      const [line, pointer, ...rest] = demo.stderr().trimEnd().split('\n');
      expect(line, what).toMatch(pattern);
      expect(pointer, what).toBe('Run demo --help for usage.');
      expect(rest, what).toEqual([]);
      expect(demo.stdout(), what).toBe('');
      expect(leftIn(demo.tmp), what).toEqual([]);
    }
  }, 60_000);
});

const missingTools = ['sgdisk', 'mkfs.ext4', 'wipefs', 'blkid', 'partx', 'zstd'].filter((tool) => {
  try { execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }); return false; } catch { return true; }
});
const tools = prerequisite('the demo\'s interrupt tests', missingTools.length > 0 ? `${missingTools.join(', ')} not installed (apt-get install gdisk e2fsprogs util-linux zstd)` : null);

tools.describe('Ctrl-C during the demo', () => {
  it('during the image build: the tool it runs is stopped, the image directory removed, exit 130', async () => {
    // 2 GiB: the build lasts several seconds, long enough to be inside it.
    const demo = startDemo({ INGOT_DEMO_IMAGE_MIB: '2048' });
    await waitFor(demo, /mkfs\.ext4 -d|zstd -3/, 40_000);
    expect(leftIn(demo.tmp)).toEqual([expect.stringMatching(/^ingot-demo-image-/)]);
    demo.child.kill('SIGINT');
    expect(await demo.exited, demo.stderr()).toBe(130);
    expect(demo.stderr()).toMatch(/^demo: interrupted by SIGINT; cleaning up$/m);
    expect(leftIn(demo.tmp)).toEqual([]);
    expect(processesUsing(demo.tmp)).toEqual([]);
  }, 60_000);

  it('once the agent paired (cleaning or deploying): the agent and its tools stopped, the machine\'s disks and the agent\'s state removed, exit 130', async () => {
    const demo = startDemo({ INGOT_DEMO_IMAGE_MIB: '32' });
    await waitFor(demo, /first heartbeat/, 50_000);
    const agentPid = Number(/agent {5}pid (\d+)/.exec(demo.stdout())?.[1]);
    expect(leftIn(demo.tmp).sort()).toEqual([expect.stringMatching(/^ingot-demo-image-/), expect.stringMatching(/^ingot-machine-/)]);
    demo.child.kill('SIGINT');
    expect(await demo.exited, demo.stderr()).toBe(130);
    expect(leftIn(demo.tmp)).toEqual([]);
    expect(() => process.kill(agentPid, 0)).toThrow(/ESRCH/);
    expect(processesUsing(demo.tmp)).toEqual([]);
  }, 60_000);
});
