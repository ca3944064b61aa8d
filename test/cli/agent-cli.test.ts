/**
 * ingot-agent's command line as a user meets it: the agent spawned as
 * `node --import tsx agent/src/main.ts ...`, its exit status and what it
 * printed. Nothing here gets as far as starting the agent: every case ends
 * at --help, --version or a refusal.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_VERSION } from '../../agent/src/agent.ts';
import { flagName, settings, type SettingName } from '../../agent/src/config.ts';
import { SOURCE_NODE_ARGS } from '../support/run-source.ts';
import { ranToEnd, startSpawned, type Ran } from '../support/spawned.ts';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const main = join(root, 'agent/src/main.ts');

function runAgent(argv: readonly string[], env: Record<string, string> = {}): Promise<Ran> {
  return ranToEnd(startSpawned(process.execPath, [...SOURCE_NODE_ARGS, main, ...argv], { cwd: root, env: { ...process.env, ...env } }));
}

/** One error line, then the convention's pointer to --help; nothing on stdout. */
function expectUsageError(ran: Ran, pattern: RegExp): void {
  expect(ran.status, ran.stderr).toBe(2);
  expect(ran.stdout).toBe('');
  const lines = ran.stderr.trimEnd().split('\n');
  expect(lines, ran.stderr).toHaveLength(2);
  expect(lines[0]).toMatch(/^ingot-agent: /);
  expect(lines[0]).toMatch(pattern);
  expect(lines[1]).toBe('Run ingot-agent --help for usage.');
}

// A TMPDIR of its own (a refusal must leave nothing behind in it), and a disk file for the cases that need one.
const dir = mkdtempSync(join(tmpdir(), 'ingot-agent-cli-'));
const tmp = join(dir, 'tmp');
const disk = join(dir, 'disk0.img');
writeFileSync(disk, '');

const cases = {
  h: ['-h'],
  version: ['--version'],
  unknown: ['--lisen-port', '8000'],
  notANumber: ['--listen-port', 'abc'],
  tooLarge: ['--listen-port', '70000'],
  tlsVersion: ['--tls-min-version', '1.1'],
  noDisk: ['--api-url', 'http://127.0.0.1:6385'],
  missingDisk: ['--api-url', 'http://127.0.0.1:6385', '--disk', '/nonexistent/ingot-disk0.img'],
  missingMachine: ['--disk', disk, '--machine', '/nonexistent/machine.json'],
  // Valid flags, a failure once running (no such manager directory): exit 1.
  failure: ['--disk', disk, '--listen-port', '0', '--manager-dir', join(dir, 'no-managers')],
  failureVerbose: ['--disk', disk, '--listen-port', '0', '--manager-dir', join(dir, 'no-managers'), '-v'],
} satisfies Record<string, string[]>;

const ran: Partial<Record<keyof typeof cases | 'help' | 'help200', Ran>> = {};

describe('ingot-agent as a user runs it', () => {
  beforeAll(async () => {
    mkdirSync(tmp);
    const env = { TMPDIR: tmp, COLUMNS: '80' };
    const runs = [
      ...Object.entries(cases).map(async ([name, argv]) => { ran[name as keyof typeof cases] = await runAgent(argv, env); }),
      (async () => { ran.help = await runAgent(['--help'], env); })(),
      (async () => { ran.help200 = await runAgent(['--help'], { ...env, COLUMNS: '200' }); })(),
    ];
    await Promise.all(runs);
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints its help for -h and --help on stdout, exit 0', () => {
    for (const help of [ran.help!, ran.h!]) {
      expect(help.status, help.stderr).toBe(0);
      expect(help.stderr).toBe('');
      expect(help.stdout).toMatch(/^Usage: ingot-agent \[options\]/);
      expect(help.stdout).toMatch(/sandbox mode/);
      expect(help.stdout).toMatch(/\nExit status:\n {2}0 +success\n {2}1 +the operation failed.*\n {2}2 +usage error.*\n {2}130 +interrupted/);
    }
    expect(ran.h!.stdout).toBe(ran.help!.stdout);
  });

  it('prints its version for --version on stdout, exit 0', () => {
    // -V is the same option (cli-flags.test.ts parses both); one process is enough here.
    expect([ran.version!.status, ran.version!.stdout, ran.version!.stderr]).toEqual([0, `${AGENT_VERSION}\n`, '']);
  });

  it('fits its help into 80 and 200 columns and lists every flag with its kernel parameter', () => {
    for (const [width, help] of [[80, ran.help!], [200, ran.help200!]] as const) {
      expect(help.status).toBe(0);
      expect(help.stdout.split('\n').filter((line) => line.length > width), `COLUMNS=${width}`).toEqual([]);
      for (const name of Object.keys(settings) as SettingName[]) {
        expect(help.stdout, `COLUMNS=${width}`).toMatch(new RegExp(`\\n {2}--${flagName(name)} [\\s\\S]*?${settings[name].param}:`));
      }
      for (const flag of ['-h, --help', '-V, --version', '-v, --verbose']) expect(help.stdout).toContain(flag);
    }
    // At 200 columns nothing needs a line of its own.
    expect(ran.help200!.stdout).toMatch(/\n {2}--image-download-connection-retry-interval <int> +ipa-image-download-connection-retry-interval: /);
  });

  it('refuses an unknown option with one line and a suggestion, its quotes balanced, exit 2', () => {
    expectUsageError(ran.unknown!, /^ingot-agent: unknown option '--lisen-port' \(Did you mean --listen-port\?\)$/);
    expect(ran.unknown!.stderr.split("'").length % 2, 'an odd number of quotes').toBe(1);
  });

  it('refuses a bad value with one line naming the flag and the accepted values, exit 2', () => {
    expectUsageError(ran.notANumber!, /option '--listen-port <int>' argument 'abc' is invalid\. expected a whole number from 0 to 65535, got "abc"$/);
    expectUsageError(ran.tooLarge!, /option '--listen-port <int>' argument '70000' is invalid\. expected a whole number from 0 to 65535, got 70000$/);
    expectUsageError(ran.tlsVersion!, /option '--tls-min-version <1\.2\|1\.3>' argument '1\.1' is invalid\. expected one of 1\.2, 1\.3, got "1\.1"$/);
  });

  it('refuses sandbox mode with no disk, a disk that does not exist, or a missing machine file, exit 2, one line', () => {
    expectUsageError(ran.noDisk!, /sandbox mode \(not inside the Ingot ramdisk\) needs at least one --disk, a disk file or a loop device, e\.g\. truncate -s 1G/);
    expectUsageError(ran.missingDisk!, /^ingot-agent: --disk \/nonexistent\/ingot-disk0\.img: no such file; create a disk file/);
    expectUsageError(ran.missingMachine!, /^ingot-agent: --machine \/nonexistent\/machine\.json: no such file; see examples\/machine\.json/);
    expect(readdirSync(tmp).filter((name) => name.startsWith('ingot'))).toEqual([]);
  });

  it('says a failure once running in one line, exit 1, its stack only with -v', () => {
    const line = `ingot-agent: Invalid configuration: cannot read the hardware manager directory ${join(dir, 'no-managers')}: ENOENT: no such file or directory, scandir '${join(dir, 'no-managers')}'`;
    expect(ran.failure!.status, ran.failure!.stderr).toBe(1);
    expect(ran.failure!.stderr).toBe(`${line}\n`);
    expect(ran.failureVerbose!.status).toBe(1);
    expect(ran.failureVerbose!.stderr).toMatch(new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n {4}at `));
  });
});
