import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT, runProgram } from '@ingot/protocol/cli';
import { createConductorProgram, parseCliArgs, parseListen, parseRootDeviceHints, type CliCommand } from './args.ts';

/** Runs the program as the command line does, capturing what it prints and whether a command was started. */
async function run(...argv: string[]): Promise<{ status: number; out: string; err: string; started: CliCommand[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const started: CliCommand[] = [];
  const program = createConductorProgram({ version: '9.8.7', run: async (command) => { started.push(command); }, write: { out: (t) => void out.push(t), err: (t) => void err.push(t) } });
  const status = await runProgram(program, argv, { name: 'ingot-conductor', err: (t) => void err.push(t) });
  return { status, out: out.join(''), err: err.join(''), started };
}

const EXAMPLE = resolve(fileURLToPath(import.meta.url), '../../../../examples/raid-two-volumes.json');
const dir = mkdtempSync(join(tmpdir(), 'ingot-cli-raid-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
}

const MAC = '52:54:00:aa:bb:cc';
const SHA = `sha256:${'a'.repeat(64)}`;

describe('parseCliArgs', () => {
  it('reads the rescue command: the password file, never a password on the command line', async () => {
    expect(await parseCliArgs(['rescue', '--mac', MAC, '--rescue-password-file', '/run/pw', '--require-hashed-password'])).toMatchObject({
      kind: 'rescue', macs: [MAC], rescuePasswordFile: '/run/pw', requireHashedPassword: true, timeoutSeconds: 600,
    });
  });

  it('reads every flag of the clean command', async () => {
    expect(await parseCliArgs(['clean', '--mac', '52-54-00-AA-BB-CC', '--mac', '52:54:00:aa:bb:cd', '--node-uuid', 'A0B1C2D3-0000-4000-8000-000000000001',
      '--allow', '10.0.0.0/8', '--allow', '::1', '--listen', '[::1]:7000', '--timeout', '30', '--poll-interval', '0.5', '--require-tls', '--verbose',
      '--collect-logs', 'always', '--logs-dir', '/var/log/ingot/deploy', '--json'])).toEqual({
      kind: 'clean', macs: ['52:54:00:aa:bb:cc', '52:54:00:aa:bb:cd'], nodeUuid: 'a0b1c2d3-0000-4000-8000-000000000001', allow: ['10.0.0.0/8', '::1'],
      listenHost: '::1', port: 7000, timeoutSeconds: 30, pollIntervalSeconds: 0.5, requireTls: true, verbose: true,
      collectLogs: 'always', logsDir: '/var/log/ingot/deploy', json: true,
    });
  });

  it('defaults to 127.0.0.1:6385, a 600 s timeout, a random node UUID, and the logs collected on failure into ./ramdisk-logs', async () => {
    const command = await parseCliArgs(['clean', '--mac', MAC]);
    expect(command).toMatchObject({ listenHost: '127.0.0.1', port: 6385, timeoutSeconds: 600, allow: [], collectLogs: 'on-failure', logsDir: 'ramdisk-logs', json: false, verbose: false });
    expect(command.nodeUuid).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reads the deploy command: image, checksum, disk format, root device hints, a longer default timeout', async () => {
    expect(await parseCliArgs(['deploy', '--mac', MAC, '--image-url', 'https://img.example/disk.img.zst', '--image-checksum', `SHA256:${'A'.repeat(64)}`,
      '--disk-format', 'raw', '--root-device', 'name=/dev/sdb', '--root-device', 'size=>= 100', '--skip-cleaning'])).toMatchObject({
      kind: 'deploy', timeoutSeconds: 3600, skipCleaning: true,
      image: { url: 'https://img.example/disk.img.zst', checksum: { algorithm: 'sha256', value: 'a'.repeat(64) }, diskFormat: 'raw' },
      rootDevice: { name: '/dev/sdb', size: '>= 100' },
    });
  });

  it('reads --raid-config\'s file as it parses the line: Ironic\'s target_raid_config, as the file holds it, and the path for hints', async () => {
    const command = await parseCliArgs(['deploy', '--mac', MAC, '--image-url', 'http://h/i.img', '--image-checksum', SHA, '--raid-config', EXAMPLE]);
    expect(command).toMatchObject({ kind: 'deploy', raidConfig: { path: EXAMPLE, config: JSON.parse(readFileSync(EXAMPLE, 'utf8')) }, rootDevice: undefined });
    expect(await parseCliArgs(['deploy', '--mac', MAC, '--image-url', 'http://h/i.img', '--image-checksum', SHA])).toMatchObject({ raidConfig: undefined });
  });

  it('types integer sizes and boolean rotational root device hints as IPA expects', () => {
    expect(parseRootDeviceHints(['size=8', 'rotational=False', 'serial=S3Z'])).toEqual({ size: 8, rotational: false, serial: 'S3Z' });
    expect(parseRootDeviceHints([])).toBeUndefined();
  });

  it('splits listen addresses with and without a host', () => {
    expect(parseListen(':8000')).toEqual({ host: '127.0.0.1', port: 8000 });
    expect(parseListen('0.0.0.0:6385')).toEqual({ host: '0.0.0.0', port: 6385 });
  });
});

describe('the ingot-conductor command line', () => {
  it('answers --help, -h, each command\'s --help and --version on stdout with exit 0', async () => {
    const top = await run('--help');
    expect(top.status).toBe(EXIT.ok);
    expect(top.out).toMatch(/Usage: ingot-conductor \[options\] \[command\][\s\S]*clean[\s\S]*deploy[\s\S]*rescue[\s\S]*Exit status:/);
    expect((await run('-h')).out).toBe(top.out);
    const deploy = await run('deploy', '--help');
    expect(deploy.status).toBe(EXIT.ok);
    // The options every command shares are on each command's help, with its own.
    for (const flag of ['--mac', '--node-uuid', '--allow', '--listen', '--timeout', '--poll-interval', '--require-tls', '--collect-logs', '--logs-dir', '--json', '--verbose',
      '--image-url', '--image-checksum', '--disk-format', '--root-device', '--skip-cleaning']) expect(deploy.out, flag).toContain(flag);
    expect(deploy.out.replace(/\s+/g, ' ')).toContain('(default: 3600)');
    const rescue = await run('rescue', '--help');
    for (const flag of ['--mac', '--rescue-password-file', '--require-hashed-password', '--json']) expect(rescue.out, flag).toContain(flag);
    expect(rescue.out).not.toContain('--image-url');
    expect((await run('clean', '--help')).out.replace(/\s+/g, ' ')).toContain('(default: 600)');
    expect(await run('--version')).toEqual({ status: EXIT.ok, out: '9.8.7\n', err: '', started: [] });
    expect((await run('-V')).out).toBe('9.8.7\n');
  });

  it.each([
    [[], /^ingot-conductor: expected a command: clean, deploy, rescue or snapshot$/],
    [['inspect'], /^ingot-conductor: unknown command "inspect"; expected clean, deploy, rescue or snapshot$/],
    [['clean'], /^ingot-conductor clean: required option '--mac <mac>' not specified$/],
    [['clean', '--mac', 'nope'], /^ingot-conductor clean: option '--mac <mac>' argument 'nope' is invalid\. expected a MAC address .*, got "nope"$/],
    [['clean', '--mac', MAC, '--allow', '10.0.0.0/40'], /^ingot-conductor clean: option '--allow <addr\|cidr>' argument '10\.0\.0\.0\/40' is invalid\./],
    [['clean', '--mac', MAC, '--timeout', '-1'], /'--timeout <seconds>' argument '-1' is invalid\. expected a number of seconds above 0, got "-1"/],
    [['clean', '--mac', MAC, '--timeout', '0'], /'--timeout <seconds>' argument '0' is invalid/],
    [['clean', '--mac', MAC, '--bogus'], /^ingot-conductor clean: unknown option '--bogus'$/],
    [['clean', '--mack', MAC], /^ingot-conductor clean: unknown option '--mack' \(Did you mean --mac\?\)$/],
    [['clean', '--mac', MAC, '--listen', 'localhost'], /'--listen <host:port>' argument 'localhost' is invalid\. expected host:port, \[v6 address\]:port or :port \(port 0 to 65535\), got "localhost"$/],
    [['clean', '--mac', MAC, '--listen', ':70000'], /'--listen <host:port>' argument ':70000' is invalid/],
    [['deploy', '--mac', MAC], /^ingot-conductor deploy: required option '--image-url <url>' not specified$/],
    [['deploy', '--mac', MAC, '--image-url', 'http://h/i.img'], /required option '--image-checksum <checksum>' not specified$/],
    [['deploy', '--mac', MAC, '--image-url', 'file:///i.img', '--image-checksum', SHA], /'--image-url <url>' argument 'file:\/\/\/i\.img' is invalid\. expected an http\(s\) URL/],
    [['deploy', '--mac', MAC, '--image-url', 'http://h/i.img', '--image-checksum', 'sha256:xyz'], /'--image-checksum <checksum>' argument 'sha256:xyz' is invalid\. the sha256 checksum "xyz" is neither hex nor an http\(s\) URL$/],
    [['deploy', '--mac', MAC, '--image-url', 'http://h/i.img', '--image-checksum', SHA, '--root-device', 'colour=red'], /'--root-device <hint=value>' argument 'colour=red' is invalid\. expected <hint>=<value> with a hint among size, model/],
    [['deploy', '--mac', MAC, '--image-url', 'http://h/i.img', '--image-checksum', SHA, '--disk-format', 'vmdk'], /'--disk-format <format>' argument 'vmdk' is invalid\. expected one of raw, qcow2, unknown, got "vmdk"$/],
    [['clean', '--mac', MAC, '--image-url', 'http://h/i.img'], /^ingot-conductor clean: unknown option '--image-url'$/],
    [['clean', '--mac', MAC, '--raid-config', EXAMPLE], /^ingot-conductor clean: unknown option '--raid-config'$/],
    [['clean', '--mac', MAC, '--collect-logs', 'sometimes'], /'--collect-logs <when>' argument 'sometimes' is invalid\. expected one of always, on-failure, never, got "sometimes"$/],
    [['clean', '--mac', MAC, '--logs-dir', ''], /'--logs-dir <dir>' argument '' is invalid/],
    [['rescue', '--mac', MAC], /^ingot-conductor rescue: required option '--rescue-password-file <file>' not specified$/],
    [['rescue', '--mac', MAC, '--rescue-password', 'hunter2'], /^ingot-conductor rescue: unknown option '--rescue-password'$/],
    [['rescue', '--mac', MAC, '--rescue-password-file', '/run/pw', '--image-url', 'http://x/i'], /^ingot-conductor rescue: unknown option '--image-url'$/],
  ])('refuses %j with one line naming the flag, exit 2', async (argv, message) => {
    const { status, out, err, started } = await run(...argv);
    expect(status).toBe(EXIT.usage);
    expect(started).toEqual([]);
    expect(out).toBe('');
    const [line, pointer, ...rest] = err.trimEnd().split('\n');
    expect(line).toMatch(message);
    expect(pointer).toMatch(/^Run ingot-conductor( \w+)? --help for usage\.$/);
    expect(rest).toEqual([]);
    // A password given on the command line is never echoed.
    expect(err).not.toContain('hunter2');
  });
});

describe('--raid-config refusals', () => {
  const deploy = (path: string) => ['deploy', '--mac', MAC, '--image-url', 'http://h/i.img', '--image-checksum', SHA, '--raid-config', path];
  it.each([
    ['a missing file', () => join(dir, 'missing.json'), /cannot read \/\S+\/missing\.json: no such file \(ENOENT\)$/],
    ['a directory', () => dir, /is not a regular file; give the path of a JSON file$/],
    ['invalid JSON', () => file('broken.json', '{\n  "logical_disks": [\n    {"raid_level": "1",}\n  ]\n}\n'), /broken\.json is not JSON: .* at line 3 column 24$/],
    ['JSON that is not an object', () => file('list.json', '[]'), /list\.json: expected Ironic's target_raid_config, an object with a non-empty "logical_disks" list \(see examples\/raid-two-volumes\.json\), got a list of 0$/],
    ['an empty logical_disks list', () => file('empty.json', '{"logical_disks": []}'), /empty\.json: expected .*, got "logical_disks": a list of 0$/],
  ])('refuses %s in one line naming the flag and the file, exit 2, nothing started', async (_what, path, reason) => {
    const given = path();
    const { status, out, err, started } = await run(...deploy(given));
    expect(status).toBe(EXIT.usage);
    expect(started).toEqual([]);
    expect(out).toBe('');
    const [line, pointer, ...rest] = err.trimEnd().split('\n');
    expect(line).toContain(`ingot-conductor deploy: option '--raid-config <file>' argument '${given}' is invalid. `);
    expect(line).toMatch(reason);
    expect(pointer).toBe('Run ingot-conductor deploy --help for usage.');
    expect(rest).toEqual([]);
  });

  it('lists --raid-config on deploy --help, naming the example', async () => {
    const help = (await run('deploy', '--help')).out.replace(/\s+/g, ' ');
    expect(help).toContain('--raid-config <file>');
    expect(help).toContain('examples/raid-two-volumes.json');
  });
});
