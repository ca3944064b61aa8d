import { describe, expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import { HELP, parseCliArgs, parseListen, parseRootDeviceHints } from './args.ts';

describe('parseCliArgs', () => {
  it('reads the rescue command: the password file, never a password on the command line', () => {
    expect(parseCliArgs(['rescue', '--mac', '52:54:00:aa:bb:cc', '--rescue-password-file', '/run/pw', '--require-hashed-password'])).toMatchObject({
      kind: 'rescue', macs: ['52:54:00:aa:bb:cc'], rescuePasswordFile: '/run/pw', requireHashedPassword: true, timeoutSeconds: 600,
    });
    const refusals = [
      [['rescue', '--mac', '52:54:00:aa:bb:cc'], /--rescue-password-file is required/],
      [['rescue', '--mac', '52:54:00:aa:bb:cc', '--rescue-password', 'hunter2'], /Unknown option '--rescue-password'/],
      [['clean', '--mac', '52:54:00:aa:bb:cc', '--rescue-password-file', '/run/pw'], /belongs to the rescue command/],
      [['rescue', '--mac', '52:54:00:aa:bb:cc', '--rescue-password-file', '/run/pw', '--image-url', 'http://x/i'], /belongs to the deploy command/],
    ] as const;
    for (const [argv, message] of refusals) expect(() => parseCliArgs(argv)).toThrow(message);
  });

  it('reads every flag of the clean command', () => {
    expect(parseCliArgs(['clean', '--mac', '52-54-00-AA-BB-CC', '--mac', '52:54:00:aa:bb:cd', '--node-uuid', 'A0B1C2D3-0000-4000-8000-000000000001',
      '--allow', '10.0.0.0/8', '--allow', '::1', '--listen', '[::1]:7000', '--timeout', '30', '--poll-interval', '0.5', '--require-tls', '--verbose',
      '--collect-logs', 'always', '--logs-dir', '/var/log/ingot/deploy'])).toEqual({
      kind: 'clean', macs: ['52:54:00:aa:bb:cc', '52:54:00:aa:bb:cd'], nodeUuid: 'a0b1c2d3-0000-4000-8000-000000000001', allow: ['10.0.0.0/8', '::1'],
      listenHost: '::1', port: 7000, timeoutSeconds: 30, pollIntervalSeconds: 0.5, requireTls: true, verbose: true,
      collectLogs: 'always', logsDir: '/var/log/ingot/deploy',
    });
  });

  it('defaults to 127.0.0.1:6385, a 600 s timeout, a random node UUID, and the logs collected on failure into ./ramdisk-logs', () => {
    const command = parseCliArgs(['clean', '--mac', '52:54:00:aa:bb:cc']);
    expect(command).toMatchObject({ listenHost: '127.0.0.1', port: 6385, timeoutSeconds: 600, allow: [], collectLogs: 'on-failure', logsDir: 'ramdisk-logs' });
  });

  it('answers --help with help, and the help documents every flag', () => {
    expect(parseCliArgs(['--help'])).toEqual({ kind: 'help' });
    for (const flag of ['--mac', '--node-uuid', '--allow', '--listen', '--timeout', '--poll-interval', '--require-tls', '--collect-logs', '--logs-dir', '--verbose', '--help',
      '--image-url', '--image-checksum', '--disk-format', '--root-device', '--skip-cleaning', '--rescue-password-file', '--require-hashed-password']) expect(HELP).toContain(flag);
  });

  it.each([
    [[]], [['clean']], [['clean', '--mac', 'nope']], [['clean', '--mac', '52:54:00:aa:bb:cc', '--allow', '10.0.0.0/40']],
    [['clean', '--mac', '52:54:00:aa:bb:cc', '--timeout', '-1']], [['clean', '--mac', '52:54:00:aa:bb:cc', '--bogus']],
    [['clean', '--mac', '52:54:00:aa:bb:cc', '--listen', 'localhost']], [['deploy', '--mac', '52:54:00:aa:bb:cc']],
    [['deploy', '--mac', '52:54:00:aa:bb:cc', '--image-url', 'http://h/i.img']],
    [['deploy', '--mac', '52:54:00:aa:bb:cc', '--image-url', 'file:///i.img', '--image-checksum', `sha256:${'a'.repeat(64)}`]],
    [['deploy', '--mac', '52:54:00:aa:bb:cc', '--image-url', 'http://h/i.img', '--image-checksum', 'sha256:xyz']],
    [['deploy', '--mac', '52:54:00:aa:bb:cc', '--image-url', 'http://h/i.img', '--image-checksum', `sha256:${'a'.repeat(64)}`, '--root-device', 'colour=red']],
    [['clean', '--mac', '52:54:00:aa:bb:cc', '--image-url', 'http://h/i.img']], [['inspect', '--mac', '52:54:00:aa:bb:cc']],
    [['clean', '--mac', '52:54:00:aa:bb:cc', '--collect-logs', 'sometimes']], [['clean', '--mac', '52:54:00:aa:bb:cc', '--logs-dir', '']],
  ])('refuses %j with a usage error', (argv) => {
    let caught: unknown;
    try { parseCliArgs(argv); } catch (error) { caught = error; }
    expect(isIngotError(caught, 'INGOT_CONFIG_INVALID')).toBe(true);
  });

  it('reads the deploy command: image, checksum, disk format, root device hints, a longer default timeout', () => {
    expect(parseCliArgs(['deploy', '--mac', '52:54:00:aa:bb:cc', '--image-url', 'https://img.example/disk.img.zst', '--image-checksum', `SHA256:${'A'.repeat(64)}`,
      '--disk-format', 'raw', '--root-device', 'name=/dev/sdb', '--root-device', 'size=>= 100', '--skip-cleaning'])).toMatchObject({
      kind: 'deploy', timeoutSeconds: 3600, skipCleaning: true,
      image: { url: 'https://img.example/disk.img.zst', checksum: { algorithm: 'sha256', value: 'a'.repeat(64) }, diskFormat: 'raw' },
      rootDevice: { name: '/dev/sdb', size: '>= 100' },
    });
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
