import { parseArgs } from 'node:util';
import { IngotError } from '@ingot/protocol';
import { flagName, settings, type SettingName } from './config.ts';

/** Turns argv into setting values; bare boolean flags become "=1". */
export function parseFlags(argv: readonly string[]): Partial<Record<SettingName, string | string[]>> & { help?: boolean } {
  const names = Object.keys(settings) as SettingName[];
  const byFlag = new Map(names.map((name) => [flagName(name), name]));
  const normalized = argv.map((arg) => {
    const name = byFlag.get(arg.replace(/^--/, ''));
    return name && settings[name].kind === 'bool' && !arg.includes('=') ? `${arg}=1` : arg;
  });
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args: normalized,
      strict: true,
      options: {
        help: { type: 'boolean' },
        ...Object.fromEntries(names.map((name) => [flagName(name), { type: 'string' as const, multiple: settings[name].kind === 'list' }])),
      },
    }));
  } catch (error) {
    // node:util throws TypeError (ERR_PARSE_ARGS_*) for an unknown flag or a missing value; its message names the flag.
    throw new IngotError('INGOT_CONFIG_INVALID', { details: (error as Error).message, cause: error });
  }
  const flags: Partial<Record<SettingName, string | string[]>> & { help?: boolean } = { help: values.help === true };
  for (const name of names) {
    const value = (values as Record<string, string | string[] | undefined>)[flagName(name)];
    if (value !== undefined) flags[name] = value;
  }
  return flags;
}
