/**
 * Issue 11 item 6: the published packages (@ingot/protocol, @ingot/agent,
 * @ingot/conductor-client) as a third-party conductor gets them. `npm pack`
 * builds each (its prepack: tsc to dist/ with declarations) and packs it; a
 * throwaway project outside the repository installs the three tarballs, then
 * plain `node` (no tsx, no source condition) imports every entry of their
 * exports maps, pairs a conductor made of @ingot/conductor-client with the
 * agent from @ingot/agent's bin, runs both bins' --help, and the repository's
 * tsc compiles a consumer file against the installed declarations under
 * `moduleResolution` node16 and bundler. Costs about 30 s with the packages
 * already built, 50 s from a clean tree (the builds take 20 s of it), up to
 * 80 s on a machine busy with other tests; the figures are printed.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulatedMachine, remainingSignatures } from '../support/simulated-machine.ts';

const execFileAsync = promisify(execFile);
const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const FIXTURES = join(REPO_ROOT, 'test', 'cli', 'fixtures');
const PACKAGES = [
  { name: '@ingot/protocol', dir: 'protocol' },
  { name: '@ingot/agent', dir: 'agent' },
  { name: '@ingot/conductor-client', dir: 'conductor-client' },
] as const;

interface PackageJson {
  exports: Record<string, Record<string, string>>;
  bin?: Record<string, string>;
}
interface PackResult { name: string; filename: string; size: number; unpackedSize: number; files: { path: string }[] }

/**
 * The environment of a user's shell: none of the npm_* variables of the
 * `npm test` around us (npm reads npm_config_* as its own settings), and no
 * NODE_OPTIONS that could carry the repository's source condition.
 */
const userEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('npm_') && key !== 'NODE_OPTIONS'));

async function run(command: string, args: string[], cwd: string, timeoutMs = 120_000) {
  try {
    return await execFileAsync(command, args, { cwd, env: userEnv(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}: ${(error as Error).message}\n${stdout.slice(-4000)}\n${stderr.slice(-4000)}`, { cause: error });
  }
}

const readPackageJson = (dir: string) => JSON.parse(readFileSync(join(REPO_ROOT, dir, 'package.json'), 'utf8')) as PackageJson;
const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

describe('the packed @ingot/* packages, installed in a throwaway project', () => {
  let work: string;
  let project: string;
  let packed: PackResult[];
  const costs: string[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'ingot-packages-'));
    project = join(work, 'conductor');
    let started = performance.now();
    // Each package's prepack builds it (tsc -b: protocol first, then the others against its declarations).
    const { stdout } = await run('npm', ['pack', ...PACKAGES.flatMap((pkg) => ['--workspace', pkg.name]), '--pack-destination', work, '--json'], REPO_ROOT, 180_000);
    packed = JSON.parse(stdout.slice(stdout.indexOf('['))) as PackResult[];
    costs.push(`build and pack ${seconds(started)}`);

    started = performance.now();
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'third-party-conductor', private: true, type: 'module' }, null, 2)}\n`);
    // --ignore-scripts: zstd-napi's native build (prebuilt download or node-gyp, ~50 s here) is not
    // what this test is about, and nothing below decompresses zstd. express: the conductor's own
    // HTTP server; @types/node: what any TypeScript consumer of a Node library has.
    await run('npm', [
      'install', ...packed.map((tarball) => join(work, tarball.filename)), 'express@^5', '@types/node@^20',
      '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts',
    ], project, 180_000);
    costs.push(`npm install ${seconds(started)}`);
  }, 400_000);

  afterAll(() => {
    process.stdout.write(`packages test costs: ${costs.join(', ')}\n`);
    if (work && !process.env.INGOT_KEEP_TEST_FILES) rmSync(work, { recursive: true, force: true });
  });

  it('hold their built JavaScript and declarations only: every exports and bin target, no sources, no tests', () => {
    expect(packed.map((tarball) => tarball.name)).toEqual(PACKAGES.map((pkg) => pkg.name));
    for (const [index, pkg] of PACKAGES.entries()) {
      const paths = packed[index]!.files.map((file) => file.path);
      const manifest = readPackageJson(pkg.dir);
      const targets = [
        ...Object.values(manifest.exports).flatMap((entry) => [entry.types!, entry.default!]),
        ...Object.values(manifest.bin ?? {}),
      ].map((target) => target.replace(/^\.\//, ''));
      expect(targets.every((target) => target.startsWith('dist/'))).toBe(true);
      for (const target of targets) expect(paths, `${pkg.name} lacks ${target}`).toContain(target);
      expect(paths.filter((path) => !path.startsWith('dist/') && !/^(package\.json|README\.md|LICENSE)$/.test(path))).toEqual([]);
      expect(paths.filter((path) => /\.test\.|fixtures\/|tsbuildinfo|\.ts$/.test(path) && !path.endsWith('.d.ts'))).toEqual([]);
      costs.push(`${pkg.name} ${(packed[index]!.size / 1024).toFixed(0)} KiB packed`);
    }
  });

  it('import every entry of their exports maps with plain node', async () => {
    const specifiers = PACKAGES.flatMap((pkg) => Object.keys(readPackageJson(pkg.dir).exports).map((sub) => `${pkg.name}${sub.slice(1)}`));
    const script = `for (const specifier of ${JSON.stringify(specifiers)}) {
      const entry = await import(specifier);
      console.log(specifier, Object.keys(entry).length);
    }`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '--eval', script], project);
    const counts = Object.fromEntries(stdout.trim().split('\n').map((line) => line.split(' ')).map(([specifier, count]) => [specifier, Number(count)]));
    expect(Object.keys(counts)).toEqual(specifiers);
    for (const specifier of specifiers) expect(counts[specifier], specifier).toBeGreaterThan(0);
  });

  it('pair a conductor embedding @ingot/conductor-client with the agent from @ingot/agent: lookup, heartbeat, and a clean step that wipes the disk', async () => {
    const machine = createSimulatedMachine({ disks: 1 });
    try {
      expect(remainingSignatures(machine.disks[0]!)).toEqual(['gpt@0', 'ext4@1048576']);
      copyFileSync(join(FIXTURES, 'packaged-conductor.mjs'), join(project, 'packaged-conductor.mjs'));
      const started = performance.now();
      const { stdout } = await run(process.execPath, ['packaged-conductor.mjs', machine.mac, machine.machineFile, machine.dir, ...machine.disks], project, 90_000);
      costs.push(`pairing and one clean step ${seconds(started)}`);
      const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as { lookups: number; heartbeats: number; steps: string[]; command: { name: string; status: string; result: unknown }; error: string | null };
      expect(report.error).toBeNull();
      expect(report.lookups).toBe(1);
      expect(report.heartbeats).toBeGreaterThanOrEqual(1);
      expect(report.steps).toContain('erase_devices_metadata');
      expect(report.command).toMatchObject({
        name: 'execute_clean_step', status: 'SUCCEEDED',
        result: { clean_step: { step: 'erase_devices_metadata' }, clean_result: { [machine.disks[0]!]: null } },
      });
      expect(remainingSignatures(machine.disks[0]!)).toEqual([]);
    } finally {
      machine.remove();
    }
  });

  it('run ingot-conductor --help and ingot-agent --help from node_modules/.bin, exiting 0', async () => {
    const conductor = await run(join(project, 'node_modules', '.bin', 'ingot-conductor'), ['--help'], project);
    expect(conductor.stdout).toContain('ingot-conductor');
    const agent = await run(join(project, 'node_modules', '.bin', 'ingot-agent'), ['--help'], project);
    expect(agent.stdout).toContain('ingot-agent');
  });

  it('compile a consumer\'s TypeScript against the installed declarations under moduleResolution node16 and bundler', async () => {
    copyFileSync(join(FIXTURES, 'packaged-consumer.ts'), join(project, 'consumer.ts'));
    const strict = { target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] };
    const resolutions = { node16: { module: 'node16', moduleResolution: 'node16' }, bundler: { module: 'preserve', moduleResolution: 'bundler' } };
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    // Both at once: each is a single-threaded tsc, and the machine has two cores.
    await Promise.all(Object.entries(resolutions).map(async ([name, resolution]) => {
      const config = join(project, `tsconfig.${name}.json`);
      writeFileSync(config, JSON.stringify({ compilerOptions: { ...strict, ...resolution }, files: ['consumer.ts'] }, null, 2));
      const started = performance.now();
      await run(process.execPath, [tsc, '-p', config], project);
      costs.push(`tsc ${name} ${seconds(started)}`);
    }));
  });
});
