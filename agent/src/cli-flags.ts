/**
 * ingot-agent's command line, generated from the settings table (config.ts):
 * every setting is a flag named after its kernel parameter without `ipa-` or
 * `ingot-`, its value checked as it is parsed by the same rules as the kernel
 * command line (`parseSettingValue`). A new row in the table is a new flag,
 * with its help, and nothing else to change here.
 */
import { createProgram, InvalidArgumentError, Option, runCaptured, type Command } from '@ingot/protocol/cli';
import { flagName, parseSettingValue, SettingValueError, settings, type Setting, type SettingName } from './config.ts';

/** Flag values as given (validated, not yet typed): resolveConfig lays them over the kernel's. */
export type SettingFlags = Partial<Record<SettingName, string | string[]>>;

export interface AgentCommandLine {
  flags: SettingFlags;
  /** --debug or -v/--verbose: debug log lines, and a failure's stack trace. */
  verbose: boolean;
}

const summary = "Ingot's provisioning agent (speaks ironic-python-agent's protocol)";

// Paragraphs as single lines: commander wraps them to the terminal's width.
const description = `Inside its ramdisk the agent reads its settings from the kernel command line (/proc/cmdline, IPA's ipa-* parameters). Elsewhere it runs in sandbox mode: it touches no disk but those given with --disk (at least one: a disk file or a loop device), and never powers the host off. Flags override kernel parameters. Boolean flags take =0 / =1 (bare means 1).

After rescue.finalize_rescue the agent leaves the password's crypt hash in /etc/ipa-rescue-config/ipa-rescue-password and the marker /etc/.rescued (under --state-dir outside the ramdisk), stops its API and exits 0; started again where the marker exists, it exits 0 at once. After system.lockdown it stops its API and, in the ramdisk, the network, and stays idle.`;

// Written as is (not wrapped): each line fits 80 columns.
const example = `
Example (sandbox mode: a 1 GiB disk file, the conductor at 127.0.0.1:6385):
  truncate -s 1G /tmp/disk0.img
  ingot-agent --api-url http://127.0.0.1:6385 --machine examples/machine.json \\
    --disk /tmp/disk0.img`;

/** The agent's program; `run` receives the command line once it is parsed and valid. */
export function createAgentProgram(options: { version: string; run: (commandLine: AgentCommandLine) => Promise<void> }): Command {
  const program = createProgram({ name: 'ingot-agent', version: options.version, summary, description });
  program.addOption(new Option('-v, --verbose', 'same as --debug: debug log lines, and the stack trace of a failure'));
  program.optionsGroup('Settings (flag, then the kernel parameter it overrides):');
  const byAttribute = new Map<string, SettingName>();
  for (const name of Object.keys(settings) as SettingName[]) {
    const option = settingOption(name, settings[name]);
    byAttribute.set(option.attributeName(), name);
    program.addOption(option);
  }
  program.addHelpText('after', example);
  program.action(async (values: Record<string, unknown>) => {
    const flags: SettingFlags = {};
    for (const [attribute, value] of Object.entries(values)) {
      const name = byAttribute.get(attribute);
      // A bare boolean flag is `true` here: the same as =1.
      if (name !== undefined) flags[name] = value === true ? '1' : value as string | string[];
    }
    if (values.verbose === true) flags.debug = '1';
    const verbose = flags.debug !== undefined && parseSettingValue(settings.debug, flags.debug as string) === true;
    await options.run({ flags, verbose });
  });
  return program;
}

/**
 * Parses argv as ingot-agent does without running it: the exit status, the
 * command line it would run with (none after --help, --version or a refusal),
 * and what it printed (help wrapped to `width` columns, default 80).
 */
export async function parseAgentArgv(argv: readonly string[], options: { width?: number; version?: string } = {}): Promise<{ status: number; commandLine?: AgentCommandLine; out: string; err: string }> {
  let commandLine: AgentCommandLine | undefined;
  const program = createAgentProgram({ version: options.version ?? '0.0.0', run: async (parsed) => { commandLine = parsed; } });
  const { status, out, err } = await runCaptured(program, argv, { name: 'ingot-agent', width: options.width });
  return { status, commandLine, out, err };
}

function settingOption(name: SettingName, setting: Setting): Option {
  const flag = `--${flagName(name)}`;
  const text = `${setting.param}: ${setting.help}${setting.default === undefined ? '' : ` (default ${setting.default})`}`;
  const check = (value: string) => {
    try {
      parseSettingValue(setting, value);
    } catch (error) {
      // commander prints "option '--listen-port <int>' argument 'abc' is invalid. expected a whole number from 0 to 65535, got "abc"".
      if (error instanceof SettingValueError) throw new InvalidArgumentError(error.message);
      throw error;
    }
    return value;
  };
  switch (setting.kind) {
    case 'bool':
      // Bare means 1; =0/=1, =true/=false as the kernel parameter. No default here: the kernel's value must show through.
      return new Option(`${flag} [bool]`, text).argParser(check);
    case 'list':
      return new Option(`${flag} <${setting.arg ?? 'value'}>`, text).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), check(value)]);
    default:
      return new Option(`${flag} <${setting.arg ?? (setting.choices ? setting.choices.join('|') : setting.kind)}>`, text).argParser(check);
  }
}
