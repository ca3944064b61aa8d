import { describe, expect, it } from 'vitest';
import { EXIT } from '@ingot/protocol/cli';
import { parseImageBuildArgv } from './cli-args.ts';

describe("image-build's command line", () => {
  it('builds a release ramdisk into build/ramdisk by default', async () => {
    const { status, parsed } = await parseImageBuildArgv(['ramdisk']);
    expect(status).toBe(EXIT.ok);
    expect(parsed).toEqual({ command: 'ramdisk', options: { out: 'build/ramdisk', compress: 'zstd19', iso: true, extraModules: [], append: [] } });
  });

  it('keeps every flag CI and the README use, repeated --extra-module and --append in order', async () => {
    const { parsed } = await parseImageBuildArgv(['ramdisk', '--compress', 'zstd3', '--extra-module', 'bonding', '--extra-module', '8021q', '--append', 'ipa-debug=1',
      '--no-iso', '--out', '/tmp/r', '--cache', '/tmp/c', '--lock', 'l.json', '--agent-entry', 'a.ts']);
    expect(parsed).toEqual({ command: 'ramdisk', options: {
      compress: 'zstd3', extraModules: ['bonding', '8021q'], append: ['ipa-debug=1'], iso: false, out: '/tmp/r', cache: '/tmp/c', lock: 'l.json', agentEntry: 'a.ts',
    } });
    expect((await parseImageBuildArgv(['resolve', '--lock', 'x.json', '--node-version', '24.1.0'])).parsed).toEqual({ command: 'resolve', options: { lock: 'x.json', nodeVersion: '24.1.0' } });
  });

  it('refuses a bad value with one line naming the subcommand, the flag and what it accepts, exit 2', async () => {
    for (const [argv, line] of [
      [['ramdisk', '--compress', 'zstd7'], `image-build ramdisk: option '--compress <kind>' argument 'zstd7' is invalid. expected one of zstd19, zstd3, got "zstd7"`],
      [['ramdisk', '--extra-module', '../x'], `image-build ramdisk: option '--extra-module <name>' argument '../x' is invalid. expected a kernel module name (letters, digits, _ and -), got "../x"`],
      [['resolve', '--node-version', 'latest'], `image-build resolve: option '--node-version <x.y.z>' argument 'latest' is invalid. expected a version x.y.z, got "latest"`],
      [['frobnicate'], `image-build: unknown command 'frobnicate'`],
      [['ramdisk', '--out', ''], `image-build ramdisk: option '--out <dir>' argument '' is invalid. expected a path, got an empty value`],
      [['ramdisk', '--compres', 'zstd3'], `image-build ramdisk: unknown option '--compres' (Did you mean --compress?)`],
      [['config-media', '--out', 'x.iso'], `image-build config-media: required option '--api-url <url>' not specified`],
      [['config-media', '--out', 'x.iso', '--api-url', 'ftp://x'], `image-build config-media: option '--api-url <url>' argument 'ftp://x' is invalid. expected an http(s) URL, got "ftp://x"`],
      [['config-media', '--out', 'x.img', '--api-url', 'http://x', '--format', 'udf'], `image-build config-media: option '--format <format>' argument 'udf' is invalid. expected one of iso, vfat, got "udf"`],
      [['config-media', '--out', 'x.iso', '--api-url', 'http://x', '--static', '10.0.2.15/24'], `image-build config-media: option '--static <spec>' argument '10.0.2.15/24' is invalid. mac=<aa:bb:cc:dd:ee:ff> is required, the agent finds the NIC by its MAC`],
      [['config-media', '--out', 'x.iso', '--api-url', 'http://x', '--param', 'novalue'], `image-build config-media: option '--param <key=value>' argument 'novalue' is invalid. expected key=value, got "novalue"`],
    ] as const) {
      const { status, parsed, err } = await parseImageBuildArgv(argv);
      expect(status, argv.join(' ')).toBe(EXIT.usage);
      expect(parsed).toBeUndefined();
      const [first, hint, ...rest] = err.trimEnd().split('\n');
      expect(first, argv.join(' ')).toBe(line);
      expect(hint).toMatch(/^Run image-build( \S+)? --help for usage\.$/);
      expect(rest).toEqual([]);
    }
  });

  it('refuses --static with --network-data', async () => {
    const { status, err } = await parseImageBuildArgv(['config-media', '--out', 'x.iso', '--api-url', 'http://x', '--static', '10.0.2.15/24,mac=52:54:00:12:34:56', '--network-data', 'n.json']);
    expect(status).toBe(EXIT.usage);
    expect(err).toMatch(/^image-build config-media: option '--static <spec>' cannot be used with option '--network-data <file>'\n/);
  });

  it('reads config-media flags into the command: repeated URLs and parameters, the static network parsed', async () => {
    const { parsed } = await parseImageBuildArgv(['config-media', '--out', 'n.img', '--api-url', 'https://a:6385', '--api-url', 'https://b:6385', '--token-file', 't',
      '--static', '10.0.2.15/24,gw=10.0.2.2,mac=52:54:00:12:34:56', '--param', 'ipa-lookup-timeout=300', '--param', 'ipa-debug=1']);
    expect(parsed).toEqual({ command: 'config-media', options: {
      out: 'n.img', apiUrl: ['https://a:6385', 'https://b:6385'], tokenFile: 't', param: { 'ipa-lookup-timeout': '300', 'ipa-debug': '1' },
      static: { address: '10.0.2.15', prefix: 24, gateway: '10.0.2.2', mac: '52:54:00:12:34:56', dns: [] },
    } });
  });

  it('gives each subcommand its own help, and the program its list of subcommands, exit 0', async () => {
    const top = await parseImageBuildArgv(['--help']);
    expect(top.status).toBe(EXIT.ok);
    expect(top.out).toMatch(/Commands:\n {2}ramdisk .*\n {2}resolve .*\n {2}config-media /);
    for (const [command, flags] of [['ramdisk', ['--out', '--cache', '--compress', '--extra-module', '--append', '--no-iso', '--lock', '--agent-entry']], ['resolve', ['--lock', '--node-version']],
      ['config-media', ['--out', '--format', '--api-url', '--token-file', '--ca', '--static', '--network-data', '--param']]] as const) {
      const help = await parseImageBuildArgv([command, '--help']);
      expect(help.status).toBe(EXIT.ok);
      expect(help.out).toMatch(new RegExp(`^Usage: image-build ${command} \\[options\\]`));
      for (const flag of flags) expect(help.out).toContain(flag);
      expect(help.out).toMatch(/Exit status:/);
      expect(help.out.split('\n').filter((line) => line.length > 80)).toEqual([]);
    }
  });

  it('calls no command at all a usage error, with the help on stderr', async () => {
    const { status, out, err } = await parseImageBuildArgv([]);
    expect(status).toBe(EXIT.usage);
    expect(out).toBe('');
    expect(err).toMatch(/^Usage: image-build/);
  });
});
