import { describe, expect, it } from 'vitest';
import { parseCliArgs } from './cli-args.ts';

describe('parseCliArgs', () => {
  it('builds a release ramdisk into build/ramdisk by default', () => {
    expect(parseCliArgs(['ramdisk'])).toMatchObject({ command: 'ramdisk', out: 'build/ramdisk', compress: 'zstd19', iso: true, extraModules: [], append: [] });
  });

  it('collects repeated --extra-module and --append options in order', () => {
    expect(parseCliArgs(['ramdisk', '--compress', 'zstd3', '--extra-module', 'bonding', '--extra-module', '8021q', '--append', 'ipa-debug=1', '--no-iso'])).toMatchObject({
      compress: 'zstd3', extraModules: ['bonding', '8021q'], append: ['ipa-debug=1'], iso: false,
    });
  });

  it('refuses an unknown compression and a module name with a path in it', () => {
    expect(() => parseCliArgs(['ramdisk', '--compress', 'gzip'])).toThrow(/zstd19, zstd3/);
    expect(() => parseCliArgs(['ramdisk', '--extra-module', '../x'])).toThrow(/not a module name/);
  });

  it('shows the help for --help or no command', () => {
    expect(parseCliArgs(['--help'])).toEqual({ command: 'help' });
    expect(parseCliArgs([])).toEqual({ command: 'help' });
  });
});
