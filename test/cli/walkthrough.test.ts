/**
 * README's "Running the agent by hand", run as written: the commands are read
 * from the README's block (only the disk file's path is moved to a directory
 * of the test's own), the conductor first, then the disk file and the agent,
 * each through `npm run` as a person types them. The conductor must pair,
 * clean and exit 0; the agent must stop on Ctrl-C (SIGINT).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startSpawned, type Spawned } from '../support/spawned.ts';

const root = resolve(fileURLToPath(import.meta.url), '../../..');

/** The shell commands of the README section's first `sh` block, comments and blank lines dropped. */
function walkthroughCommands(): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Running the agent by hand'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('README.md: no sh block under "Running the agent by hand"');
  return block.split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
}

/** A command in its own process group, so Ctrl-C reaches npm and the node it started, as in a terminal. */
function start(command: string): Spawned {
  return startSpawned('sh', ['-c', `exec ${command}`], { cwd: root, detached: true, env: { ...process.env, FORCE_COLOR: '0' } });
}

const output = (running: Spawned) => running.stdout() + running.stderr();

async function waitFor(what: string, running: Spawned, pattern: RegExp, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!pattern.test(output(running))) {
    if (Date.now() > until || running.child.exitCode !== null) throw new Error(`${what}: no ${pattern} within ${ms} ms; output:\n${output(running)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const dir = mkdtempSync(join(tmpdir(), 'ingot-walkthrough-'));
const started: Spawned[] = [];
afterAll(() => {
  for (const { child } of started) {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL'); // the group: npm and the node it started
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('README: running the agent by hand', () => {
  it('the conductor pairs with the agent of examples/machine.json and cleans its disk, as written', async () => {
    const commands = walkthroughCommands().map((line) => line.replaceAll('/tmp/disk0.img', join(dir, 'disk0.img')));
    expect(commands.map((line) => line.split(' ').slice(0, 3).join(' '))).toEqual(['npm run conductor', 'truncate -s 1G', 'npm run agent']);
    const [conductorLine, diskLine, agentLine] = commands as [string, string, string];

    const conductor = start(conductorLine);
    started.push(conductor);
    await waitFor('conductor', conductor, /listening on http:\/\/127\.0\.0\.1:6385/, 30_000);
    execFileSync('sh', ['-c', diskLine], { cwd: root });
    const agent = start(agentLine);
    started.push(agent);

    const status = await Promise.race([conductor.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 120_000))]);
    expect(status, `conductor:\n${output(conductor)}\nagent:\n${output(agent)}`).toBe(0);
    expect(output(conductor)).toMatch(/token issued[\s\S]*paired[\s\S]*erase_devices_metadata[\s\S]*cleaning done/);

    // npm re-raises the Ctrl-C it forwarded once its child is gone, so npm itself ends by SIGINT; the agent's own end is in its log.
    process.kill(-agent.child.pid!, 'SIGINT');
    expect([130, 'SIGINT']).toContain(await agent.exited); // the agent's 130 (interrupted), or npm's re-raised SIGINT
    expect(output(agent)).toMatch(/"signal":"SIGINT".*stopping|stopping.*SIGINT/);
  }, 180_000);
});
