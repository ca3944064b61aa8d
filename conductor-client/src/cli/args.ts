/**
 * Command line of `ingot-conductor`, on the CLI convention of
 * `@ingot/protocol/cli` (commander): subcommands `clean`, `deploy`,
 * `rescue` and `snapshot`, each with its own `--help` listing the options it shares with the
 * others; every value checked as it is parsed, a refusal being one line that
 * names the flag and what it accepts (exit 2).
 */
import { randomUUID } from 'node:crypto';
import { isIngotError } from '@ingot/protocol';
import {
  addSubcommand, Command, createProgram, oneOf, Option, UsageError, valueParser, type CliWriters,
} from '@ingot/protocol/cli';
import { normaliseMac, parseAddressFilter } from '../index.ts';
import { parseImageChecksum, type DeployImage } from '../conductor/image-info.ts';
import { COLLECT_LOGS_POLICIES, type CollectLogsPolicy } from '../conductor/ramdisk-logs.ts';
import { readRaidConfigFile, type RaidConfigFile } from '../conductor/raid-config-file.ts';
import { addStoreOptions, parseSize, storeSpecOf, type StoreOptions, type StoreSpec } from './snapshot-options.ts';

export interface CleanCommand {
  kind: 'clean';
  macs: string[];
  nodeUuid: string;
  allow: string[];
  listenHost: string;
  port: number;
  timeoutSeconds: number;
  pollIntervalSeconds: number;
  requireTls: boolean;
  collectLogs: CollectLogsPolicy;
  logsDir: string;
  verbose: boolean;
  /** The final result as one JSON object on stdout, the narrative on stderr. */
  json: boolean;
}

export interface DeployCommand extends Omit<CleanCommand, 'kind'> {
  kind: 'deploy';
  /** Undefined with --snapshot until main reads the manifest (resolveSnapshotImage). */
  image: DeployImage | undefined;
  /** `--snapshot`: the manifest (a file, an http(s) URL, or `store`: read from --store with its credentials), and the store to sign the read URL. */
  snapshot?: { manifest: string; store?: StoreSpec; imageUrl?: string };
  rootDevice: Record<string, string | number | boolean> | undefined;
  skipCleaning: boolean;
  /** `--raid-config`: read and shape-checked as the line is parsed, so a bad file stops the command before anything starts. */
  raidConfig: RaidConfigFile | undefined;
}

export interface RescueCommand extends Omit<CleanCommand, 'kind'> {
  kind: 'rescue';
  /** Read by main, never by the parser: the password stays out of argv and of parse errors. */
  rescuePasswordFile: string;
  requireHashedPassword: boolean;
}

export interface SnapshotCommand extends Omit<CleanCommand, 'kind'> {
  kind: 'snapshot';
  store: StoreSpec;
  /** The disk by name; else the agent's root device (or the `--root-device` hints). */
  device?: string;
  partitions?: number[];
  rootDevice: Record<string, string | number | boolean> | undefined;
}

export type CliCommand = CleanCommand | DeployCommand | RescueCommand | SnapshotCommand;

const SUMMARY = 'A reference conductor: pairs with the agent of one node over Ironic\'s lookup and heartbeat, then cleans, deploys, rescues or snapshots it';
const DESCRIPTION = `It serves Ironic's lookup and heartbeat endpoints (--listen) and waits for
the agent of the node enrolled by --mac: start the agent with
ipa-api-url=http://<listen address> (npm run agent -- --api-url ...).
On failure it prints one line on stderr: what failed, on which node, why,
and what to try; --verbose adds its log and stack traces.`;

/** The checks of another module as a one-line reason: an IngotError's details, without the table's prefix. */
const checked = <T>(parse: (value: string) => T) => valueParser((value: string) => {
  try {
    return parse(value);
  } catch (error) {
    throw isIngotError(error) && error.details ? new Error(error.details) : error;
  }
});

const collect = <T>(parse: (value: string) => T) => (value: string, previous: T[] | undefined): T[] => [...(previous ?? []), parse(value)];

const parseMac = checked((value) => {
  const mac = normaliseMac(value);
  if (!mac) throw new Error(`expected a MAC address such as 52:54:00:12:34:56, got "${value}"`);
  return mac;
});

const parseAllow = checked((value) => {
  parseAddressFilter([value]);
  return value;
});

const parseUuid = checked((value) => {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) throw new Error(`expected a UUID such as 1be26c0b-03f2-4d4e-9e8c-5f1b5c1b0a01, got "${value}"`);
  return value.toLowerCase();
});

/** Seconds, fractions allowed (0.5), more than zero. */
const positiveSeconds = checked((value) => {
  const number = /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!(number > 0) || !Number.isFinite(number)) throw new Error(`expected a number of seconds above 0, got "${value}"`);
  return number;
});

/** Splits `host:port`, `[v6]:port` or `:port`. */
export function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port > 65535) throw new Error(`expected host:port, [v6 address]:port or :port (port 0 to 65535), got "${value}"`);
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port };
}

const parseImageUrl = checked((value) => {
  if (!/^https?:\/\/[^/]/i.test(value)) throw new Error(`expected an http(s) URL the agent can reach, got "${value}"`);
  return value;
});

const HINT_NAMES = ['size', 'model', 'wwn', 'serial', 'vendor', 'wwn_with_extension', 'wwn_vendor_extension', 'name', 'hctl', 'by_path', 'tran', 'rotational'];

/** One `name=/dev/sda` pair of IPA's root device hints (ipa-protocol.md §9.10); a bare integer size and a boolean rotational are typed. */
function parseRootDeviceHint(pair: string): [string, string | number | boolean] {
  const at = pair.indexOf('=');
  const key = at > 0 ? pair.slice(0, at).trim() : '';
  const value = pair.slice(at + 1).trim();
  if (!HINT_NAMES.includes(key) || value === '') throw new Error(`expected <hint>=<value> with a hint among ${HINT_NAMES.join(', ')}, got "${pair}"`);
  return [key, key === 'size' && /^\d+$/.test(value) ? Number(value)
    : key === 'rotational' && /^(true|false)$/i.test(value) ? value.toLowerCase() === 'true' : value];
}

/** Root device hints from `--root-device` pairs; undefined without any. */
export function parseRootDeviceHints(pairs: readonly string[]): Record<string, string | number | boolean> | undefined {
  return pairs.length === 0 ? undefined : Object.fromEntries(pairs.map((pair) => parseRootDeviceHint(pair)));
}

const DISK_FORMATS = ['raw', 'qcow2', 'unknown'] as const;

/** `1,2`: partition numbers, each once, from 1 to 128 (GPT's usual table). */
export function parsePartitions(value: string): number[] {
  const numbers = value.split(',').map((part) => part.trim());
  const parsed = numbers.map((part) => (/^\d{1,3}$/.test(part) ? Number(part) : Number.NaN));
  if (parsed.some((n) => !(n >= 1 && n <= 128)) || new Set(parsed).size !== parsed.length) {
    throw new Error(`expected partition numbers from 1 to 128, each once, separated by commas (e.g. 1,2), got "${value}"`);
  }
  return parsed;
}

function addCommonOptions(command: Command, kind: CliCommand['kind']): Command {
  command
    .addOption(new Option('--mac <mac>', 'MAC address of the node, the agent looks it up by it (repeatable; at least one)').argParser(collect(parseMac)))
    .addOption(new Option('--node-uuid <uuid>', 'UUID of the node (default: a random one)').argParser(parseUuid))
    .addOption(new Option('--allow <addr|cidr>', 'address or CIDR allowed to look up and heartbeat (repeatable, IPv4 or IPv6; default: any)').argParser(collect(parseAllow)))
    .addOption(new Option('--listen <host:port>', 'where to serve the API; give the agent http://<host>:<port> as ipa-api-url').default('127.0.0.1:6385').argParser(checked(parseListen)))
    .addOption(new Option('--timeout <seconds>', 'give up (exit 1) when pairing and the whole run take longer').default(kind === 'deploy' || kind === 'snapshot' ? 3600 : 600).argParser(positiveSeconds))
    .addOption(new Option('--poll-interval <seconds>', 'between polls of a running step').default(2).argParser(positiveSeconds))
    .addOption(new Option('--require-tls', 'refuse agents whose callback_url is not https'));
  if (kind === 'clean' || kind === 'deploy') {
    command
      .addOption(new Option('--collect-logs <when>', 'when to fetch the ramdisk\'s logs before letting the agent go, as Ironic\'s deploy_logs_collect: on-failure, always (also after a success) or never')
        .default('on-failure').argParser(oneOf(COLLECT_LOGS_POLICIES)))
      .addOption(new Option('--logs-dir <dir>', 'where to save them, named as Ironic does: <node uuid>[_cleaning]_<UTC date>.tar.gz (created when first needed)')
        .default('ramdisk-logs').argParser(checked((value) => { if (!value.trim()) throw new Error('expected a directory, got ""'); return value; })));
  }
  return command
    .addOption(new Option('--json', 'print the result (node, state, steps and durations, root disk, logs, or the error and its code) as one JSON object on stdout; the narrative goes to stderr'))
    .addOption(new Option('-v, --verbose', 'log details to stderr (readable on a terminal, JSON otherwise), stack traces included'));
}

interface ParsedOptions extends StoreOptions {
  mac: string[];
  nodeUuid?: string;
  allow?: string[];
  listen: string | { host: string; port: number };
  timeout: number;
  pollInterval: number;
  requireTls?: boolean;
  collectLogs?: CollectLogsPolicy;
  logsDir?: string;
  json?: boolean;
  verbose?: boolean;
  imageUrl?: string;
  imageChecksum?: DeployImage['checksum'];
  diskFormat?: string;
  rootDevice?: Array<[string, string | number | boolean]>;
  skipCleaning?: boolean;
  raidConfig?: RaidConfigFile;
  rescuePasswordFile?: string;
  requireHashedPassword?: boolean;
  snapshot?: string;
  device?: string;
  partitions?: number[];
}

/**
 * Required options, checked once commander has parsed the whole line:
 * commander's own check (makeOptionMandatory) runs before its unknown-option
 * check, so `clean --mack x` would be told "--mac not specified" instead of
 * "unknown option '--mack' (Did you mean --mac?)".
 */
function requireOptions(command: Command, options: ParsedOptions, names: ReadonlyArray<keyof ParsedOptions>): void {
  for (const name of names) {
    if (options[name] !== undefined) continue;
    const option = command.options.find((o) => o.attributeName() === name);
    command.error(`required option '${option?.flags ?? name}' not specified`, { exitCode: 2, code: 'commander.missingMandatoryOptionValue' });
  }
}

function common(options: ParsedOptions) {
  // A default is not passed through the parser: the listen default arrives as text.
  const listen = typeof options.listen === 'string' ? parseListen(options.listen) : options.listen;
  return {
    macs: options.mac, nodeUuid: options.nodeUuid ?? randomUUID(), allow: options.allow ?? [], listenHost: listen.host, port: listen.port,
    timeoutSeconds: options.timeout, pollIntervalSeconds: options.pollInterval, requireTls: options.requireTls ?? false,
    collectLogs: options.collectLogs ?? 'on-failure', logsDir: options.logsDir ?? 'ramdisk-logs',
    verbose: options.verbose ?? false, json: options.json ?? false,
  };
}

export interface ConductorProgramOptions {
  version: string;
  run: (command: CliCommand) => Promise<void>;
  write?: CliWriters;
}

/** The `ingot-conductor` program; `run` gets each parsed command. */
export function createConductorProgram(options: ConductorProgramOptions): Command {
  const program = createProgram({ name: 'ingot-conductor', version: options.version, summary: SUMMARY, description: DESCRIPTION });
  if (options.write) program.configureOutput({ writeOut: options.write.out, writeErr: options.write.err });

  addCommonOptions(addSubcommand(program, 'clean', 'Automated cleaning, as Ironic runs it: every clean step with priority > 0, highest first', `Exits 0 once the node is available (cleaning done), 1 when a step fails.
When cleaning fails (or always, see --collect-logs) it first fetches the
ramdisk's logs through the agent, as Ironic does, and saves them.`), 'clean')
    .action(async (parsed: ParsedOptions, self: Command) => {
      requireOptions(self, parsed, ['mac']);
      await options.run({ kind: 'clean', ...common(parsed) });
    });

  const deploy = addStoreOptions(addCommonOptions(addSubcommand(program, 'deploy', 'Cleans, then writes a whole-disk image as Ironic does (write_image, get_partition_uuids, power_off)', `A progress bar follows the agent's download (bytes as served); a retrying
download shows the agent's reason at once. Exits 0 once the node is active.
With --raid-config the agent first builds the software RAID arrays
(raid.apply_configuration, existing arrays deleted first), then writes the
image onto the root volume; where each array's resync stands is shown once
the image is written.
With --snapshot it deploys an Ingot snapshot: the manifest gives the
image's sha256 and what the agent checks (image_info.ingot_snapshot).`), 'deploy'), 'read');
  deploy
    .addOption(new Option('--image-url <url>', 'http(s) URL of the whole-disk image the agent downloads (raw, or zstd/gzip/xz-compressed raw; qcow2)').argParser(parseImageUrl))
    .addOption(new Option('--image-checksum <checksum>', '<algorithm>:<hex> of the file as served (compressed if it is; e.g. sha256:9f86...), <algorithm>:<checksum-file URL>, a checksum-file URL, or bare hex')
      .argParser(checked(parseImageChecksum)))
    .addOption(new Option('--disk-format <format>', 'image_info.disk_format; unknown lets the agent detect it').default('raw').argParser(oneOf(DISK_FORMATS)))
    .addOption(new Option('--root-device <hint=value>', 'root device hint (repeatable), e.g. name=/dev/sda, serial=S3Z..., size=">= 100" (GiB); default: the smallest disk of at least 4 GiB')
      .argParser(collect(checked(parseRootDeviceHint))))
    .addOption(new Option('--skip-cleaning', 'deploy at once, without cleaning first'))
    .addOption(new Option('--snapshot <manifest>', 'deploy an Ingot snapshot: its manifest (a file, an http(s) URL, or "store" to read <object>.manifest.json from --store); the image URL is signed by --store, else given by --image-url, else the manifest URL without .manifest.json; the checksum is the manifest\'s (no --image-checksum)')
      .argParser(checked((value) => { if (!value.trim()) throw new Error('expected a manifest file, URL or "store", got ""'); return value; })))
    .addOption(new Option('--raid-config <file>', 'Ironic\'s target_raid_config JSON ({"logical_disks": [...]}, e.g. examples/raid-two-volumes.json): build software RAID with raid.apply_configuration before writing the image onto its root volume')
      .argParser(checked(readRaidConfigFile)))
    .action(async (parsed: ParsedOptions, self: Command) => {
      requireOptions(self, parsed, parsed.snapshot === undefined ? ['mac', 'imageUrl', 'imageChecksum'] : ['mac']);
      const store = storeSpecOf(parsed);
      if (parsed.snapshot !== undefined) {
        if (parsed.imageChecksum !== undefined) throw new UsageError('--image-checksum cannot go with --snapshot: the manifest gives the checksum');
        if (parsed.snapshot === 'store' && !store) throw new UsageError('--snapshot store needs --store swift or s3 (and its options) to read the manifest from');
        if (store?.kind === 'put' && parsed.snapshot === 'store') throw new UsageError('--snapshot store needs --store swift or s3; give a put store\'s manifest by its URL');
      } else if (store) {
        throw new UsageError(`--store ${store.kind} is for --snapshot: give --snapshot <manifest> too`);
      }
      await options.run({
        kind: 'deploy', ...common(parsed),
        image: parsed.snapshot === undefined ? { url: parsed.imageUrl!, checksum: parsed.imageChecksum!, diskFormat: parsed.diskFormat ?? 'raw' } : undefined,
        ...(parsed.snapshot !== undefined ? { snapshot: { manifest: parsed.snapshot, ...(store ? { store } : {}), ...(parsed.imageUrl ? { imageUrl: parsed.imageUrl } : {}) } } : {}),
        rootDevice: parsed.rootDevice ? Object.fromEntries(parsed.rootDevice) : undefined, skipCleaning: parsed.skipCleaning ?? false,
        raidConfig: parsed.raidConfig,
      });
    });

  addCommonOptions(addSubcommand(program, 'rescue', 'Rescues the node as Ironic in RESCUEWAIT: finalize_rescue with the password\'s hash, then the agent stops its API', `The node's console then offers the login "rescue" with that password. Only
the password's SHA-512 crypt hash is sent, unless the agent refuses hashes
(agents before IPA 6.0): then the plain password, as Ironic does, unless
--require-hashed-password.`), 'rescue')
    .addOption(new Option('--rescue-password-file <file>', 'file whose first line is the rescue password (never give the password itself on the command line)'))
    .addOption(new Option('--require-hashed-password', 'never send the plain password (Ironic\'s require_rescue_password_hashed)'))
    .action(async (parsed: ParsedOptions, self: Command) => {
      requireOptions(self, parsed, ['mac', 'rescuePasswordFile']);
      await options.run({ kind: 'rescue', ...common(parsed), rescuePasswordFile: parsed.rescuePasswordFile!, requireHashedPassword: parsed.requireHashedPassword ?? false });
    });

  const snapshot = addStoreOptions(addCommonOptions(addSubcommand(program, 'snapshot', 'Captures the node\'s disk to an object store (an Ingot extension): snapshot.capture to short-lived URLs, then the object completed', `The agent reads the disk block by block (never mounted, never written) into
zstd's seekable format and uploads it to URLs this conductor signed: Swift
temp URLs per segment (then the static large object's manifest PUT with the
conductor's credentials), S3 presigned part URLs (then
CompleteMultipartUpload), or one HTTP PUT. The manifest is stored beside
the image (<name>.manifest.json) and printed at the end (JSON with --json).
On failure or interrupt the upload is abandoned: nothing half-uploaded is
left looking complete. Secrets come from the environment only:
INGOT_SWIFT_KEY (with --swift-user) or INGOT_SWIFT_TOKEN, optionally
INGOT_SWIFT_TEMP_URL_KEY (else read from the account, or set), and
INGOT_S3_ACCESS_KEY with INGOT_S3_SECRET_KEY.`), 'snapshot'), 'upload');
  snapshot
    .addOption(new Option('--device <path>', 'the disk to capture, e.g. /dev/sda (default: the root device, as a deploy chooses it)')
      .argParser(checked((value) => { if (!/^\/dev\/[^\s]+$/.test(value)) throw new Error(`expected a device path such as /dev/sda, got "${value}"`); return value; })))
    .addOption(new Option('--root-device <hint=value>', 'choose the disk by root device hint instead (repeatable), e.g. serial=S3Z...')
      .argParser(collect(checked(parseRootDeviceHint))))
    .addOption(new Option('--partitions <numbers>', 'capture only these partitions (and the partition table), e.g. 1,2; default: the whole disk')
      .argParser(checked(parsePartitions)))
    .addOption(new Option('--segment-size <size>', 'bytes per Swift segment or S3 part (e.g. 64MiB, the default; S3 needs at least 5MiB); raised so at most 10000 are needed (the S3 part limit; Swift nests manifests past 1000 segments); the agent holds up to 3 segments in memory')
      .argParser(parseSize))
    .action(async (parsed: ParsedOptions, self: Command) => {
      requireOptions(self, parsed, ['mac', 'store']);
      const store = storeSpecOf(parsed)!;
      if (parsed.device && parsed.rootDevice) throw new UsageError('--device and --root-device choose the disk two ways: give one');
      if (store.kind === 's3' && parsed.segmentSize !== undefined && parsed.segmentSize < 5 * 1024 * 1024) throw new UsageError(`--segment-size must be at least 5MiB for S3, got ${parsed.segmentSize} bytes`);
      if (store.kind !== 'put' && parsed.segmentSize !== undefined && parsed.segmentSize % (1024 * 1024) !== 0) throw new UsageError('--segment-size must be a whole number of MiB');
      await options.run({
        kind: 'snapshot', ...common(parsed), store,
        ...(parsed.device ? { device: parsed.device } : {}), ...(parsed.partitions ? { partitions: parsed.partitions } : {}),
        rootDevice: parsed.rootDevice ? Object.fromEntries(parsed.rootDevice) : undefined,
      });
    });

  // No command, or a word that is none: one line, as for any other usage error (commander would print the whole help).
  program.allowExcessArguments(true).action((_options: unknown, self: Command) => {
    const [word] = self.args;
    // JSON-quoted: a word holding a newline must not break the one line (found by the argv fuzz).
    throw new UsageError(word === undefined ? 'expected a command: clean, deploy, rescue or snapshot' : `unknown command ${JSON.stringify(word)}; expected clean, deploy, rescue or snapshot`);
  });
  return program;
}

/**
 * Parses argv (without node and the script) as the program would, printing
 * nothing; throws commander's or a UsageError on a usage error. For tests and
 * callers that only need the command.
 */
export async function parseCliArgs(argv: readonly string[]): Promise<CliCommand> {
  let command: CliCommand | undefined;
  const program = createConductorProgram({ version: '0.0.0', run: async (parsed) => { command = parsed; }, write: { out: () => {}, err: () => {} } });
  for (const sub of program.commands) sub.configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} });
  program.configureOutput({ outputError: () => {} });
  await program.parseAsync([...argv], { from: 'user' });
  if (!command) throw new UsageError('no command');
  return command;
}
