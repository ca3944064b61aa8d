import fc from 'fast-check';
import { expect, it } from 'vitest';
import { fuzz } from '../../test/support/fuzz.ts';
import { oddString, parsesOrRefuses, secret, timed } from '../../test/support/fuzz-inputs.ts';
import { EXIT } from '@ingot/protocol/cli';
import { parseAgentArgv } from './cli-flags.ts';
import { flagName, parseKernelCmdline, resolveConfig, settings, type SettingName } from './config.ts';

const names = Object.keys(settings) as SettingName[];
const params = names.map((name) => settings[name].param);
/** Values near the settings' kinds: numbers in every notation, booleans in every spelling, URLs, odd strings. */
const value = fc.oneof(
  oddString,
  fc.integer({ min: -10, max: 200_000 }).map(String),
  fc.constantFrom('0', '1', '9999', '65535', '65536', '0x10', '1e3', '1.5', ' 8 ', '', 'true', 'False', 'yes', 'off', 'on', '1.2', '1.3', 'http', 'https',
    'http://10.0.0.1:6385', 'https://a:6385,http://b:6385', 'ftp://x', 'http://', '9007199254740993'),
);

it('reads back every kernel command line it renders, quoted values and bare words included, and any text without throwing', async () => {
  await fuzz('parseKernelCmdline round trip', 200, fc.property(
    fc.dictionary(fc.stringMatching(/^[A-Za-z0-9_.-]{1,20}$/), fc.oneof(fc.constant(undefined), fc.stringMatching(/^[^\s"]{0,20}$/), fc.stringMatching(/^[^"]{0,20}$/)), { maxKeys: 6 }),
    fc.constantFrom(' ', '  ', '\t', '\n'), oddString,
    (wanted, separator, junk) => {
      const rendered = Object.entries(wanted).map(([key, v]) => (v === undefined ? key : /\s/.test(v) || v.startsWith('"') ? `${key}="${v}"` : `${key}=${v}`));
      const parsed = parseKernelCmdline(`${rendered.join(separator)}\n`);
      expect({ ...parsed }).toEqual(Object.fromEntries(Object.entries(wanted).map(([key, v]) => [key, v ?? '1'])));
      timed(() => parseKernelCmdline(junk));
    },
  ));
});

it('resolves any kernel parameters and flags into a well-typed configuration or INGOT_CONFIG_INVALID naming the setting, never showing the token', async () => {
  await fuzz('resolveConfig on any parameters', 250, fc.property(
    fc.dictionary(fc.constantFrom(...params), value, { maxKeys: 5 }),
    fc.dictionary(fc.constantFrom(...names), fc.oneof(value, fc.array(value, { maxLength: 3 }), fc.boolean()), { maxKeys: 3 }),
    secret,
    (kernel, flags, token) => {
      const outcome = parsesOrRefuses(() => resolveConfig({ kernel: { ...kernel, 'ipa-agent-token': token }, flags }), ['INGOT_CONFIG_INVALID'], /ipa-|ingot-|BOOTIF|flag --|--tls/);
      if ('error' in outcome) {
        expect(outcome.error.message).not.toContain(token);
        return;
      }
      const config = outcome.value as Record<string, unknown>;
      for (const name of names) {
        const kind = settings[name].kind;
        const got = config[name];
        if (got === undefined) continue;
        if (kind === 'int') expect(Number.isSafeInteger(got) && (got as number) >= 0).toBe(true);
        if (kind === 'bool') expect(typeof got).toBe('boolean');
        if (kind === 'list') expect(Array.isArray(got) && (got as unknown[]).every((item) => typeof item === 'string' && item !== '')).toBe(true);
        if (kind === 'string') expect(typeof got).toBe('string');
      }
      // 0 is a port too: listen on any free one (the tests do).
      for (const port of [config.listenPort, config.advertisePort]) if (port !== undefined) expect(port).toSatisfy((p: number) => p >= 0 && p <= 65535);
    },
  ));
});

it('parses any argv into a command line resolveConfig takes value by value, or refuses it with one line and exit 2, never a crash', async () => {
  await fuzz('ingot-agent argv', 150, fc.asyncProperty(
    fc.array(fc.oneof(
      oddString,
      fc.constantFrom(...names).map((name) => `--${flagName(name)}`),
      fc.tuple(fc.constantFrom(...names), value).map(([name, v]) => `--${flagName(name)}=${v}`),
      value,
      fc.constantFrom('--help', '-h', '-V', '-v', '--verbose', '--', '-', '--=x', '--no-insecure', '---x', '-vv'),
    ), { maxLength: 6 }),
    async (argv) => {
      const { status, commandLine, err } = await parseAgentArgv(argv);
      expect([EXIT.ok, EXIT.usage]).toContain(status);
      if (status === EXIT.usage) {
        expect(commandLine).toBeUndefined();
        expect(err).toMatch(/^ingot-agent: [^\n]*(option|argument)[^\n]*\nRun ingot-agent --help for usage\.\n$/);
        return;
      }
      expect(err).toBe('');
      if (commandLine === undefined) return; // --help or --version
      // Every value was checked as it was parsed: what resolveConfig may still refuse is a combination of flags, never one flag's value.
      const outcome = parsesOrRefuses(() => resolveConfig({ flags: commandLine.flags }), ['INGOT_CONFIG_INVALID'], /ingot-|--tls/);
      if ('error' in outcome) expect(outcome.error.message).not.toMatch(/flag --/);
    },
  ));
});
