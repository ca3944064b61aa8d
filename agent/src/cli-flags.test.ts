import { describe, expect, it } from 'vitest';
import { EXIT } from '@ingot/protocol/cli';
import { parseAgentArgv } from './cli-flags.ts';
import { flagName, resolveConfig, settings, type SettingName } from './config.ts';

const names = Object.keys(settings) as SettingName[];

describe("ingot-agent's command line", () => {
  it('has a flag for every row of the settings table, shown in --help with its kernel parameter and default', async () => {
    const { status, out } = await parseAgentArgv(['--help']);
    expect(status).toBe(EXIT.ok);
    for (const name of names) {
      const setting = settings[name];
      expect(out, name).toContain(`--${flagName(name)}`);
      // The kernel parameter may be wrapped onto the next line, but it is whole.
      expect(out, name).toMatch(new RegExp(`\\s${setting.param}:\\s`));
      if ('default' in setting) expect(out.replace(/\s+/g, ' '), name).toContain(`(default ${setting.default})`);
    }
    expect(out).toMatch(/sandbox mode/);
    expect(out).toMatch(/rescue\.finalize_rescue/);
    expect(out).toMatch(/system\.lockdown/);
    expect(out).toMatch(/Exit status:\n {2}0 +success/);
  });

  it('fits its help into 80 and 200 columns, a flag too long for the column on a line of its own', async () => {
    for (const width of [80, 200]) {
      const { out } = await parseAgentArgv(['--help'], { width });
      const wide = out.split('\n').filter((line) => line.length > width);
      expect(wide, `wider than ${width}`).toEqual([]);
    }
    const { out } = await parseAgentArgv(['--help'], { width: 80 });
    expect(out).toMatch(/\n {2}--image-download-connection-retry-interval <int>\n {6}ipa-image-download-connection-retry-interval: Longest/);
  });

  it('passes every row its own default as a flag, so each flag parses what the table declares', async () => {
    const argv = names.flatMap((name) => {
      const setting = settings[name];
      return 'default' in setting ? [`--${flagName(name)}=${setting.default}`] : [];
    });
    const { status, commandLine, err } = await parseAgentArgv(argv);
    expect(err).toBe('');
    expect(status).toBe(EXIT.ok);
    expect(resolveConfig({ flags: commandLine!.flags })).toEqual(resolveConfig({}));
  });

  it('keeps the boolean forms scripts use: bare, =1, =0, =true, =false, and a separate value', async () => {
    for (const [argv, wanted] of [
      [['--insecure'], true], [['--insecure=1'], true], [['--insecure=0'], false], [['--insecure=true'], true],
      [['--insecure=false'], false], [['--insecure', '0'], false], [['--insecure', '--listen-port', '1'], true],
    ] as const) {
      const { status, commandLine } = await parseAgentArgv(argv);
      expect(status, argv.join(' ')).toBe(EXIT.ok);
      expect(resolveConfig({ kernel: { 'ipa-insecure': wanted ? '0' : '1' }, flags: commandLine!.flags }).insecure, argv.join(' ')).toBe(wanted);
    }
  });

  it('lets flags override the kernel command line, gathering repeated --disk and --api-url', async () => {
    const { commandLine } = await parseAgentArgv(['--listen-port', '8000', '--disk', '/tmp/a.img', '--disk', '/tmp/b.img', '--api-url', 'http://a:6385,http://b:6385', '--api-url', 'https://c:6385']);
    const config = resolveConfig({ kernel: { 'ipa-listen-port': '9999' }, flags: commandLine!.flags });
    expect(config).toMatchObject({ listenPort: 8000, disk: ['/tmp/a.img', '/tmp/b.img'], apiUrl: ['http://a:6385', 'http://b:6385', 'https://c:6385'] });
  });

  it('takes -v and --verbose for --debug, and shows stacks with either', async () => {
    for (const argv of [['-v'], ['--verbose'], ['--debug'], ['--debug=1']]) {
      const { commandLine } = await parseAgentArgv(argv);
      expect(commandLine!.verbose, argv.join(' ')).toBe(true);
      expect(resolveConfig({ flags: commandLine!.flags }).debug, argv.join(' ')).toBe(true);
    }
    expect((await parseAgentArgv(['--debug=0'])).commandLine!.verbose).toBe(false);
    expect((await parseAgentArgv([])).commandLine!.verbose).toBe(false);
  });

  it('prints -V/--version and -h on stdout, exit 0, without running', async () => {
    for (const flag of ['-V', '--version']) {
      const { status, commandLine, out } = await parseAgentArgv([flag], { version: '9.8.7' });
      expect([status, commandLine, out]).toEqual([EXIT.ok, undefined, '9.8.7\n']);
    }
    const help = await parseAgentArgv(['-h']);
    expect([help.status, help.commandLine]).toEqual([EXIT.ok, undefined]);
    expect(help.out).toMatch(/^Usage: ingot-agent \[options\]/);
  });

  it('refuses a bad value at parse time, exit 2, with one line naming the flag and what it accepts', async () => {
    for (const [argv, line] of [
      [['--listen-port', 'abc'], `option '--listen-port <int>' argument 'abc' is invalid. expected a whole number from 0 to 65535, got "abc"`],
      [['--listen-port', '70000'], `option '--listen-port <int>' argument '70000' is invalid. expected a whole number from 0 to 65535, got 70000`],
      [['--lookup-timeout', '-1'], `option '--lookup-timeout <int>' argument '-1' is invalid. expected a whole number (0 or more), got "-1"`],
      [['--tls-min-version', '1.1'], `option '--tls-min-version <1.2|1.3>' argument '1.1' is invalid. expected one of 1.2, 1.3, got "1.1"`],
      [['--advertise-protocol=ftp'], `option '--advertise-protocol <http|https>' argument 'ftp' is invalid. expected one of http, https, got "ftp"`],
      [['--api-url', 'http://a:6385,ftp://b'], `option '--api-url <url>' argument 'http://a:6385,ftp://b' is invalid. expected http(s) URLs, comma-separated, got "ftp://b"`],
      [['--insecure=maybe'], `option '--insecure [bool]' argument 'maybe' is invalid. expected a boolean (1/0, true/false, yes/no, on/off), got "maybe"`],
      [['--lisen-port', '1'], `unknown option '--lisen-port' (Did you mean --listen-port?)`],
      [['--listen-port'], `option '--listen-port <int>' argument missing`],
    ] as const) {
      const { status, commandLine, err } = await parseAgentArgv(argv);
      expect(status, argv.join(' ')).toBe(EXIT.usage);
      expect(commandLine).toBeUndefined();
      expect(err).toBe(`ingot-agent: ${line}\nRun ingot-agent --help for usage.\n`);
    }
  });
});
