/**
 * ingot-conductor's command line on any argv: a command whose values the
 * conductor can use, help or the version, or a refusal in one line and exit
 * 2; never a crash, never another status, and never a value echoed for
 * --rescue-password-file's neighbours that looks like a password.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { EXIT, runProgram } from '@ingot/protocol/cli';
import { fuzz } from '../../../test/support/fuzz.ts';
import { oddString } from '../../../test/support/fuzz-inputs.ts';
import { createConductorProgram, type CliCommand } from './args.ts';

const EXAMPLE = resolve(fileURLToPath(import.meta.url), '../../../../examples/raid-two-volumes.json');
const MACHINE = join(dirname(EXAMPLE), 'machine.json');

const flags = ['--mac', '--node-uuid', '--allow', '--listen', '--timeout', '--poll-interval', '--require-tls', '--collect-logs', '--logs-dir', '--json', '--verbose', '-v',
  '--image-url', '--image-checksum', '--disk-format', '--root-device', '--skip-cleaning', '--raid-config', '--rescue-password-file', '--require-hashed-password', '--help', '-h', '--version', '-V', '--', '-'];
const value = fc.oneof(
  oddString,
  fc.constantFrom('', ' ', '52:54:00:12:34:56', '52-54-00-AA-BB-CC', 'nope', '127.0.0.1:0', '[::1]:6385', ':70000', 'localhost', '0', '-1', '0.5', '1e3', 'NaN', 'Infinity',
    'on-failure', 'always', 'sometimes', 'raw', 'qcow2', 'vmdk', `sha256:${'a'.repeat(64)}`, 'sha256:xyz', 'http://192.0.2.1/i.img', 'file:///i', 'name=/dev/sda', 'size=8',
    'colour=red', '10.0.0.0/8', '10.0.0.0/40', '1be26c0b-03f2-4d4e-9e8c-5f1b5c1b0a01',
    // --raid-config: a good file, a JSON file of another shape, a directory, a device, a missing file.
    EXAMPLE, MACHINE, dirname(EXAMPLE), '/dev/null', `${EXAMPLE}.missing`),
);
const option = fc.tuple(fc.constantFrom(...flags), value, fc.constantFrom('separate', 'joined', 'alone')).map(([flag, v, form]) => (form === 'separate' ? [flag, v] : form === 'joined' ? [`${flag}=${v}`] : [flag]));
const argvs = fc.tuple(fc.oneof(fc.constantFrom('clean', 'deploy', 'rescue', 'help', 'inspect'), oddString), fc.array(option, { maxLength: 6 }), fc.boolean())
  .map(([command, options, withCommand]) => [...(withCommand ? [command] : []), ...options.flat()]);

it('parses any argv into a command the conductor can use, or refuses it with one line and exit 2', async () => {
  await fuzz('ingot-conductor argv', 150, fc.asyncProperty(argvs, async (argv) => {
    let parsed: CliCommand | undefined;
    let out = '';
    let err = '';
    const write = { out: (text: string) => { out += text; }, err: (text: string) => { err += text; } };
    const program = createConductorProgram({ version: '1.0.0', run: async (command) => { parsed = command; }, write });
    const status = await runProgram(program, argv, { name: 'ingot-conductor', err: write.err });
    expect([EXIT.ok, EXIT.usage]).toContain(status);
    if (status === EXIT.usage) {
      expect(parsed).toBeUndefined();
      expect(err).toMatch(/^ingot-conductor( \w+)?: [^\n]+\nRun ingot-conductor( \w+)? --help for usage\.\n$/);
      return;
    }
    expect(err).toBe('');
    if (!parsed) {
      expect(out.length).toBeGreaterThan(0); // help or version
      return;
    }
    expect(parsed.macs.length).toBeGreaterThan(0);
    for (const mac of parsed.macs) expect(mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(parsed.nodeUuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(parsed.port).toBeGreaterThanOrEqual(0);
    expect(parsed.port).toBeLessThanOrEqual(65535);
    for (const seconds of [parsed.timeoutSeconds, parsed.pollIntervalSeconds]) {
      expect(Number.isFinite(seconds)).toBe(true);
      expect(seconds).toBeGreaterThan(0);
    }
    expect(['on-failure', 'always', 'never']).toContain(parsed.collectLogs);
    expect(parsed.logsDir.trim()).not.toBe('');
    if (parsed.kind === 'deploy' && parsed.snapshot) expect(parsed.snapshot.manifest.trim()).not.toBe('');
    if (parsed.kind === 'deploy' && parsed.image) {
      expect(parsed.image.url).toMatch(/^https?:\/\/[^/]/i);
      expect(['raw', 'qcow2', 'unknown']).toContain(parsed.image.diskFormat);
      if (parsed.raidConfig) expect(parsed.raidConfig.config.logical_disks.length).toBeGreaterThan(0);
    }
    if (parsed.kind === 'rescue') expect(parsed.rescuePasswordFile).toBeTypeOf('string');
  }));
});
