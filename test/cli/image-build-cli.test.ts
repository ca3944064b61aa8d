/**
 * image-build's command line as a user meets it: `node --import tsx
 * image-build/src/cli.ts ...` spawned, its exit status and output; a
 * configuration image built for real; and a ramdisk build interrupted with
 * SIGINT, which must exit 130 leaving no partial output and the previous
 * build's files untouched.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultCacheDir } from '../../image-build/src/build-ramdisk.ts';
import { prerequisite } from '../support/prerequisite.ts';
import { SOURCE_NODE_ARGS } from '../support/run-source.ts';
import { ranToEnd, startSpawned, type Ran } from '../support/spawned.ts';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const cli = join(root, 'image-build/src/cli.ts');
const { version } = JSON.parse(readFileSync(join(root, 'image-build/package.json'), 'utf8')) as { version: string };

// A TMPDIR of the test's own: nothing may be left in it but tsx's cache.
const dir = mkdtempSync(join(tmpdir(), 'ingot-image-build-cli-'));
const tmp = join(dir, 'tmp');
mkdirSync(tmp);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Running {
  pid: number;
  stderr: () => string;
  done: Promise<Ran>;
}

function start(argv: readonly string[]): Running {
  const spawned = startSpawned(process.execPath, [...SOURCE_NODE_ARGS, cli, ...argv], { cwd: root, env: { ...process.env, TMPDIR: tmp, COLUMNS: '80' } });
  return { pid: spawned.child.pid!, stderr: spawned.stderr, done: ranToEnd(spawned) };
}

const run = (...argv: string[]) => start(argv).done;

function expectUsageError(ran: Ran, line: string): void {
  expect(ran.status, ran.stderr).toBe(2);
  expect(ran.stdout).toBe('');
  const [first, hint, ...rest] = ran.stderr.trimEnd().split('\n');
  expect(first).toBe(line);
  expect(hint).toMatch(/^Run image-build( \S+)? --help for usage\.$/);
  expect(rest).toEqual([]);
}

describe('image-build as a user runs it', () => {
  it('prints its help and its subcommands\' on stdout, and its version, exit 0, each line within 80 columns', async () => {
    const [help, ramdisk, configMedia, versionRun] = await Promise.all([run('--help'), run('ramdisk', '--help'), run('config-media', '--help'), run('--version')]);
    for (const [ran, usage] of [[help, 'image-build [options] [command]'], [ramdisk, 'image-build ramdisk [options]'], [configMedia, 'image-build config-media [options]']] as const) {
      expect(ran.status, ran.stderr).toBe(0);
      expect(ran.stderr).toBe('');
      expect(ran.stdout.startsWith(`Usage: ${usage}\n`)).toBe(true);
      expect(ran.stdout.match(/\nExit status:\n/g)).toHaveLength(1);
      expect(ran.stdout.split('\n').filter((line) => line.length > 80)).toEqual([]);
    }
    expect(ramdisk.stdout).toMatch(/--compress <kind> +zstd19 for releases/);
    expect(configMedia.stdout).toMatch(/--static <spec>/);
    expect([versionRun.status, versionRun.stdout]).toEqual([0, `${version}\n`]);
  }, 30_000);

  it('refuses a bad --compress, an unknown command and a missing file with one line, exit 2', async () => {
    const [compress, unknown, tokenFile] = await Promise.all([
      run('ramdisk', '--compress', 'zstd7'),
      run('frobnicate'),
      run('config-media', '--out', join(dir, 'n.iso'), '--api-url', 'http://192.0.2.1:6385', '--token-file', join(dir, 'no-token')),
    ]);
    expectUsageError(compress, `image-build ramdisk: option '--compress <kind>' argument 'zstd7' is invalid. expected one of zstd19, zstd3, got "zstd7"`);
    expectUsageError(unknown, "image-build: unknown command 'frobnicate'");
    expectUsageError(tokenFile, `image-build: --token-file ${join(dir, 'no-token')}: no such file`);
    expect(existsSync(join(dir, 'n.iso'))).toBe(false);
  }, 30_000);

  const xorriso = prerequisite('the config-media build', existsSync('/usr/bin/xorriso') ? null : 'xorriso (Debian package xorriso)');
  xorriso.it('builds a configuration ISO and says what it wrote, removing its staging copy (it holds the token)', async () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${'t'.repeat(43)}\n`);
    const out = join(dir, 'node1.iso');
    const ran = await run('config-media', '--out', out, '--api-url', 'https://192.0.2.10:6385', '--token-file', tokenFile, '--static', '10.0.2.15/24,gw=10.0.2.2,mac=52:54:00:12:34:56');
    expect(ran.status, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(new RegExp(`^${out}: iso, \\d+ bytes, etc/ingot/parameters\\.txt, openstack/latest/network_data\\.json\\n$`));
    expect(readdirSync(tmp).filter((name) => name.startsWith('ingot'))).toEqual([]);
  }, 30_000);
});

function buildMissing(): string | null {
  if (process.getuid?.() !== 0) return 'root (the build creates /dev/console with mknod)';
  for (const tool of ['cpio', 'zstd', 'grub-mkrescue', 'xorriso', 'readelf', 'dpkg-deb']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} (scripts/debian-packages.sh test installs it)`;
    }
  }
  const cache = defaultCacheDir();
  if (!existsSync(join(cache, 'extracted')) || !existsSync(join(cache, 'node'))) return `a warm build cache in ${cache} (npm run ramdisk -- --compress zstd3 first, as scripts/test.sh does)`;
  return null;
}

const build = prerequisite('the interrupted ramdisk build', buildMissing());

build.describe('a ramdisk build stopped with Ctrl-C', () => {
  // Inside the repository: the build checks the agent bundle with `node agent.mjs --help`, which finds its native addon in the repository's node_modules.
  const out = join(root, 'build', `cli-test-${process.pid}`);
  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
    rmSync(`${out}.work`, { recursive: true, force: true });
  });

  it('exits 130 during the ISO, removing every partial file and leaving the previous build as it was', async () => {
    // The previous build, as far as this test cares: its files must come out byte for byte.
    mkdirSync(out, { recursive: true });
    const previous = { 'initramfs.cpio.zst': 'previous initramfs', 'ingot-ramdisk.iso': 'previous iso', 'manifest.json': '{"previous":true}\n' };
    for (const [name, text] of Object.entries(previous)) writeFileSync(join(out, name), text);

    const building = start(['ramdisk', '--compress', 'zstd3', '--out', out]);
    const until = Date.now() + 60_000;
    while (!/virtual-media ISO/.test(building.stderr())) {
      if (Date.now() > until) throw new Error(`the build did not reach the ISO within 60 s:\n${building.stderr()}`);
      const early = await Promise.race([building.done, new Promise<undefined>((r) => setTimeout(() => r(undefined), 100))]);
      if (early) throw new Error(`the build ended (exit ${early.status}) before the ISO:\n${early.stderr}`);
    }
    // grub-mkrescue is writing the ISO now, beside the finished partial initramfs.
    await new Promise((r) => setTimeout(r, 300));
    expect(readdirSync(out).filter((name) => name.endsWith('.partial')).length).toBeGreaterThan(0);
    process.kill(building.pid, 'SIGINT');
    const ended = await building.done;

    expect(ended.status, ended.stderr).toBe(130);
    expect(ended.stderr.trimEnd().split('\n').at(-1)).toBe('image-build: interrupted by SIGINT; partial outputs removed');
    expect(readdirSync(out).sort()).toEqual(Object.keys(previous).sort());
    for (const [name, text] of Object.entries(previous)) expect(readFileSync(join(out, name), 'utf8'), name).toBe(text);
    expect(readdirSync(`${out}.work`).filter((name) => name.startsWith('iso'))).toEqual([]);
    // grub-mkrescue's temporary directories went under the work directory, and were removed with it.
    expect(readdirSync(tmp).filter((name) => name.startsWith('grub') || name.startsWith('ingot'))).toEqual([]);
  }, 90_000);
});
