/**
 * `ingot-conductor deploy --raid-config FILE`: Ironic's `target_raid_config`
 * (`{"logical_disks": [...]}`, ipa-protocol.md §8.1) read from a file when
 * the command line is read. Only its shape is checked here (JSON, an object,
 * a non-empty `logical_disks` list): what each logical disk asks for is the
 * agent's to judge, on its own disks, and it refuses a configuration it
 * cannot build with INGOT_RAID_CONFIG_INVALID naming the volume and the
 * reason, before it touches any disk. Checking it twice would only let the
 * two checks disagree.
 */
import { readFileSync, statSync } from 'node:fs';
import { parse as parseJsonc, type ParseError } from 'jsonc-parser';
import { describeInput, IngotError } from '@ingot/protocol';

/** Ironic's target_raid_config as the file holds it, sent on as it is. */
export interface TargetRaidConfig {
  logical_disks: unknown[];
  [key: string]: unknown;
}

export interface RaidConfigFile {
  /** The path as given, for messages and hints. */
  path: string;
  config: TargetRaidConfig;
}

/** Ironic's own RAID configurations are a few hundred bytes; a file this large is not one. */
const MAX_BYTES = 1024 * 1024;

const refused = (details: string, cause?: unknown) => new IngotError('INGOT_CONFIG_INVALID', { details, cause });

/**
 * Why and where JSON.parse refused the text, as `Unexpected token '}' at line
 * 3 column 14`. Node's message says where only for some errors (`at position
 * N`; `Unexpected token` quotes a piece of the text instead, and Node 22 words
 * it again differently), so the place comes from jsonc-parser's scanner, which
 * reports an offset for every error; JSON.parse alone decides what is valid.
 */
function whyNotJson(text: string, error: Error): string {
  const reason = error.message
    .replace(/, .*is not valid JSON$/s, '')
    .replace(/\s*(?:in JSON )?at position \d+.*$/s, '')
    .replace(/ in JSON$/, '');
  const errors: ParseError[] = [];
  parseJsonc(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const fromMessage = /at position (\d+)/.exec(error.message)?.[1];
  const offset = errors[0]?.offset ?? (fromMessage === undefined ? undefined : Number(fromMessage));
  if (offset === undefined) return reason;
  const before = text.slice(0, offset).split('\n');
  return `${reason} at line ${before.length} column ${before.at(-1)!.length + 1}`;
}

/** Reads the file's text as a target_raid_config; throws INGOT_CONFIG_INVALID naming the file and, for bad JSON, where it broke. */
export function parseRaidConfigText(text: string, path: string): TargetRaidConfig {
  // A byte order mark is what some editors put first; JSON.parse would stop on it.
  const json = text.replace(/^\uFEFF/, '');
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw refused(`${path} is not JSON: ${whyNotJson(json, error as Error)}`, error);
  }
  const shape = 'Ironic\'s target_raid_config, an object with a non-empty "logical_disks" list (see examples/raid-two-volumes.json)';
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw refused(`${path}: expected ${shape}, got ${describeInput(parsed)}`);
  const disks = (parsed as Record<string, unknown>).logical_disks;
  if (!Array.isArray(disks) || disks.length === 0) throw refused(`${path}: expected ${shape}, got "logical_disks": ${describeInput(disks)}`);
  return parsed as TargetRaidConfig;
}

/** Reads and checks the file; throws INGOT_CONFIG_INVALID naming it (missing, unreadable, not a regular file, too large, not JSON, wrong shape). */
export function readRaidConfigFile(path: string): RaidConfigFile {
  let text: string;
  try {
    // A regular file only: a FIFO or /dev/stdin would block the command line until something wrote to it.
    const stat = statSync(path);
    if (!stat.isFile()) throw refused(`${path} is not a regular file; give the path of a JSON file`);
    if (stat.size > MAX_BYTES) throw refused(`${path} is ${stat.size} bytes, more than a RAID configuration's ${MAX_BYTES}; give the path of Ironic's target_raid_config JSON`);
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof IngotError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'a directory' : (error as Error).message;
    throw refused(`cannot read ${path}: ${why}${code && !why.includes(code) ? ` (${code})` : ''}`, error);
  }
  return { path, config: parseRaidConfigText(text, path) };
}
