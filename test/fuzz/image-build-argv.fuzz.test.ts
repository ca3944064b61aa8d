/**
 * image-build's command line (image-build/src/cli-args.ts) on any argv: a
 * command whose values are what the build can use, help, or a refusal in
 * one line with exit 2; never a crash and never another status.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { EXIT } from '@ingot/protocol/cli';
import { parseImageBuildArgv } from '../../image-build/src/cli-args.ts';
import { fuzz } from '../support/fuzz.ts';
import { oddString } from '../support/fuzz-inputs.ts';

const flags = ['--out', '--cache', '--compress', '--extra-module', '--append', '--no-iso', '--lock', '--agent-entry', '--node-version', '--format', '--api-url',
  '--token-file', '--ca', '--static', '--network-data', '--param', '--help', '-h', '--version', '-V', '--', '-'];
const value = fc.oneof(
  oddString,
  fc.constantFrom('', ' ', 'zstd3', 'zstd19', 'zstd7', 'bonding', '../x', '24.1.0', 'iso', 'vfat', 'http://192.0.2.1:6385', 'ftp://x',
    '10.0.2.15/24,mac=52:54:00:12:34:56', 'a=b', '=b', 'novalue', 'x.iso', 'build/r'),
);
/** A flag with its value: separate, joined by =, or alone. */
const option = fc.tuple(fc.constantFrom(...flags), value, fc.constantFrom('separate', 'joined', 'alone')).map(([flag, v, form]) => (form === 'separate' ? [flag, v] : form === 'joined' ? [`${flag}=${v}`] : [flag]));
const argvs = fc.tuple(fc.oneof(fc.constantFrom('ramdisk', 'resolve', 'config-media', 'help', 'frobnicate'), oddString), fc.array(option, { maxLength: 5 }), fc.boolean())
  .map(([command, options, withCommand]) => [...(withCommand ? [command] : []), ...options.flat()]);

it('parses any argv into a command the build can use, or refuses it with one line and exit 2', async () => {
  await fuzz('image-build argv', 120, fc.asyncProperty(argvs, async (argv) => {
    const { status, parsed, err } = await parseImageBuildArgv(argv);
    expect([EXIT.ok, EXIT.usage]).toContain(status);
    if (status === EXIT.usage) {
      expect(parsed).toBeUndefined();
      // One line, then where to look (or, with no command at all, the help on stderr).
      if (!err.startsWith('Usage:')) expect(err).toMatch(/^image-build[^\n]*: [^\n]+\nRun image-build( \S+)? --help for usage\.\n$/);
      return;
    }
    expect(err).toBe('');
    if (parsed?.command === 'ramdisk') {
      expect(['zstd19', 'zstd3']).toContain(parsed.options.compress);
      // An empty path is the current directory to path.resolve: --out '' would build into it.
      for (const path of [parsed.options.out, parsed.options.cache, parsed.options.lock, parsed.options.agentEntry]) if (path !== undefined) expect(path.trim()).not.toBe('');
      for (const name of parsed.options.extraModules) expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
    }
    if (parsed?.command === 'resolve') {
      if (parsed.options.nodeVersion !== undefined) expect(parsed.options.nodeVersion).toMatch(/^\d+\.\d+\.\d+$/);
      if (parsed.options.lock !== undefined) expect(parsed.options.lock.trim()).not.toBe('');
    }
    if (parsed?.command === 'config-media') {
      expect(parsed.options.apiUrl.length).toBeGreaterThan(0);
      for (const path of [parsed.options.out, parsed.options.tokenFile, parsed.options.ca, parsed.options.networkData]) if (path !== undefined) expect(path.trim()).not.toBe('');
      for (const url of parsed.options.apiUrl) expect(url).toMatch(/^https?:\/\/\S+$/);
      for (const key of Object.keys(parsed.options.param)) expect(key).not.toBe('');
      expect(parsed.options.static !== undefined && parsed.options.networkData !== undefined).toBe(false);
    }
  }));
});
