import { describe, expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import { HELP, parseCliArgs, parseListen } from './args.ts';

describe('parseCliArgs', () => {
  it('reads every flag of the clean command', () => {
    expect(parseCliArgs(['clean', '--mac', '52-54-00-AA-BB-CC', '--mac', '52:54:00:aa:bb:cd', '--node-uuid', 'A0B1C2D3-0000-4000-8000-000000000001',
      '--allow', '10.0.0.0/8', '--allow', '::1', '--listen', '[::1]:7000', '--timeout', '30', '--poll-interval', '0.5', '--require-tls', '--verbose'])).toEqual({
      kind: 'clean', macs: ['52:54:00:aa:bb:cc', '52:54:00:aa:bb:cd'], nodeUuid: 'a0b1c2d3-0000-4000-8000-000000000001', allow: ['10.0.0.0/8', '::1'],
      listenHost: '::1', port: 7000, timeoutSeconds: 30, pollIntervalSeconds: 0.5, requireTls: true, verbose: true,
    });
  });

  it('defaults to 127.0.0.1:6385, a 600 s timeout and a random node UUID', () => {
    const command = parseCliArgs(['clean', '--mac', '52:54:00:aa:bb:cc']);
    expect(command).toMatchObject({ listenHost: '127.0.0.1', port: 6385, timeoutSeconds: 600, allow: [] });
  });

  it('answers --help with help, and the help documents every flag', () => {
    expect(parseCliArgs(['--help'])).toEqual({ kind: 'help' });
    for (const flag of ['--mac', '--node-uuid', '--allow', '--listen', '--timeout', '--poll-interval', '--require-tls', '--verbose', '--help']) expect(HELP).toContain(flag);
  });

  it.each([
    [[]], [['clean']], [['clean', '--mac', 'nope']], [['clean', '--mac', '52:54:00:aa:bb:cc', '--allow', '10.0.0.0/40']],
    [['clean', '--mac', '52:54:00:aa:bb:cc', '--timeout', '-1']], [['clean', '--mac', '52:54:00:aa:bb:cc', '--bogus']],
    [['clean', '--mac', '52:54:00:aa:bb:cc', '--listen', 'localhost']], [['deploy', '--mac', '52:54:00:aa:bb:cc']],
  ])('refuses %j with a usage error', (argv) => {
    let caught: unknown;
    try { parseCliArgs(argv); } catch (error) { caught = error; }
    expect(isIngotError(caught, 'INGOT_CONFIG_INVALID')).toBe(true);
  });

  it('splits listen addresses with and without a host', () => {
    expect(parseListen(':8000')).toEqual({ host: '127.0.0.1', port: 8000 });
    expect(parseListen('0.0.0.0:6385')).toEqual({ host: '0.0.0.0', port: 6385 });
  });
});
