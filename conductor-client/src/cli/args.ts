/** Command line of `ingot-conductor`: parsed once here, with node:util parseArgs. */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { IngotError } from '@ingot/protocol';
import { normaliseMac, parseAddressFilter } from '../index.ts';
import { parseImageChecksum, type DeployImage } from '../conductor/image-info.ts';
import { COLLECT_LOGS_POLICIES, type CollectLogsPolicy } from '../conductor/ramdisk-logs.ts';

export const HELP = `Usage: ingot-conductor clean --mac <mac> [options]
       ingot-conductor deploy --mac <mac> --image-url <url> --image-checksum <checksum> [options]
       ingot-conductor rescue --mac <mac> --rescue-password-file <file> [options]

Serves Ironic's lookup and heartbeat endpoints and waits for the agent of one
node to pair. "clean" then runs automated cleaning through it (every clean step
with priority > 0, highest first) and exits. "deploy" cleans the same way,
then writes a whole-disk image as Ironic does (write_image deploy step,
get_partition_uuids, power_off) with a progress bar, and exits. When cleaning
or the deploy fails (or always, see --collect-logs) it first fetches the
ramdisk's logs through the agent, as Ironic does, and saves them. "rescue"
waits for the agent of a node booted into the ramdisk for rescue, sends it
the rescue password's SHA-512 crypt hash (rescue.finalize_rescue, as Ironic
in RESCUEWAIT), waits until the agent stops its API, and exits: the node's
console then offers the login "rescue" with that password.

Options:
  --mac <mac>            MAC address of the node (repeatable, at least one).
                         The agent looks the node up by these.
  --node-uuid <uuid>     UUID of the node (default: a random one).
  --allow <addr|cidr>    Source address or CIDR allowed to look up and heartbeat
                         (repeatable; IPv4 or IPv6). Without it any address may.
  --listen <host:port>   Where to serve the API (default 127.0.0.1:6385). Give the
                         agent http://<host>:<port> as ipa-api-url.
  --timeout <seconds>    Give up if pairing, cleaning and deploying take longer
                         (default 600 for clean, 3600 for deploy).
  --poll-interval <s>    Seconds between polls of a running step (default 2).
  --require-tls          Refuse agents whose callback_url is not https.
  --collect-logs <when>  When to fetch the ramdisk's logs (log.collect_system_logs)
                         before letting the agent go, as Ironic's
                         deploy_logs_collect: on-failure (default: when cleaning
                         or the deploy fails), always (also at the end of
                         cleaning and before the deploy's power_off), or never.
  --logs-dir <dir>       Where to save them, as Ironic names them:
                         <node uuid>[_cleaning]_<UTC yyyy-mm-dd-hh-mm-ss>.tar.gz
                         (default ./ramdisk-logs, created when first needed).
  --verbose              Log details (JSON, to stderr).
  -h, --help             Show this help.

Deploy options:
  --image-url <url>      http(s) URL of the whole-disk image; the agent downloads
                         it (raw, or zstd/gzip/xz-compressed raw).
  --image-checksum <c>   <algorithm>:<hex> (e.g. sha256:9f86...), <algorithm>:<url
                         of a checksum file>, a checksum-file URL, or bare hex.
                         The digest of the file as served (compressed if it is).
  --disk-format <fmt>    image_info.disk_format (default raw).
  --root-device <k=v>    Root device hint (repeatable), e.g. name=/dev/sda,
                         serial=S3Z..., size=">= 100" (GiB). Without hints the
                         agent takes the smallest disk of at least 4 GiB.
  --skip-cleaning        Deploy at once, without cleaning first.

Rescue options:
  --rescue-password-file <file>
                         File whose first line is the rescue password (never
                         give the password itself on the command line). Only
                         its hash is sent, unless the agent refuses hashes
                         (agents before IPA 6.0): then the plain password, as
                         Ironic does, unless --require-hashed-password.
  --require-hashed-password
                         Never send the plain password (Ironic's
                         require_rescue_password_hashed).

Exit status: 0 when cleaning (and the deploy), or the rescue, succeeded, 1 when
it failed, 2 on timeout, 64 on a usage error.
`;

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
}

export interface DeployCommand extends Omit<CleanCommand, 'kind'> {
  kind: 'deploy';
  image: DeployImage;
  rootDevice: Record<string, string | number | boolean> | undefined;
  skipCleaning: boolean;
}

export interface RescueCommand extends Omit<CleanCommand, 'kind'> {
  kind: 'rescue';
  /** Read by main, never by the parser: the password stays out of argv and of parse errors. */
  rescuePasswordFile: string;
  requireHashedPassword: boolean;
}

export type CliCommand = { kind: 'help' } | CleanCommand | DeployCommand | RescueCommand;

const usage = (details: string) => new IngotError('INGOT_CONFIG_INVALID', { details });

function positiveNumber(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw usage(`${flag} must be a positive number of seconds, got "${value}"`);
  return number;
}

/** Splits `host:port`, `[v6]:port` or `:port`. */
export function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port > 65535) throw usage(`--listen must be host:port, got "${value}"`);
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port };
}

/** Parses argv (without node and the script); throws INGOT_CONFIG_INVALID on a usage error. */
export function parseCliArgs(argv: readonly string[]): CliCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        mac: { type: 'string', multiple: true },
        'node-uuid': { type: 'string' },
        allow: { type: 'string', multiple: true },
        listen: { type: 'string' },
        timeout: { type: 'string' },
        'poll-interval': { type: 'string' },
        'require-tls': { type: 'boolean' },
        'collect-logs': { type: 'string' },
        'logs-dir': { type: 'string' },
        'image-url': { type: 'string' },
        'image-checksum': { type: 'string' },
        'disk-format': { type: 'string' },
        'root-device': { type: 'string', multiple: true },
        'skip-cleaning': { type: 'boolean' },
        'rescue-password-file': { type: 'string' },
        'require-hashed-password': { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw usage((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  const kind = positionals[0];
  if ((kind !== 'clean' && kind !== 'deploy' && kind !== 'rescue') || positionals.length > 1) throw usage(`expected the command "clean", "deploy" or "rescue", got "${positionals.join(' ')}"`);
  const macs = (values.mac ?? []).map((mac) => {
    const normal = normaliseMac(mac);
    if (!normal) throw usage(`--mac "${mac}" is not a MAC address`);
    return normal;
  });
  if (macs.length === 0) throw usage('--mac is required');
  const allow = values.allow ?? [];
  parseAddressFilter(allow); // throws on a bad entry
  const nodeUuid = values['node-uuid'] ?? randomUUID();
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(nodeUuid)) throw usage(`--node-uuid "${nodeUuid}" is not a UUID`);
  const { host, port } = parseListen(values.listen ?? '127.0.0.1:6385');
  const collectLogs = values['collect-logs'] ?? 'on-failure';
  if (!isCollectLogsPolicy(collectLogs)) throw usage(`--collect-logs must be one of ${COLLECT_LOGS_POLICIES.join(', ')}, got "${collectLogs}"`);
  if (values['logs-dir'] === '') throw usage('--logs-dir must not be empty');
  const common = {
    macs, nodeUuid: nodeUuid.toLowerCase(), allow, listenHost: host, port,
    timeoutSeconds: positiveNumber(values.timeout, '--timeout', kind === 'deploy' ? 3600 : 600),
    pollIntervalSeconds: positiveNumber(values['poll-interval'], '--poll-interval', 2),
    requireTls: values['require-tls'] ?? false,
    collectLogs, logsDir: values['logs-dir'] ?? 'ramdisk-logs',
    verbose: values.verbose ?? false,
  };
  const deployOnly = (['image-url', 'image-checksum', 'disk-format', 'root-device', 'skip-cleaning'] as const).filter((flag) => values[flag] !== undefined);
  const rescueOnly = (['rescue-password-file', 'require-hashed-password'] as const).filter((flag) => values[flag] !== undefined);
  if (kind !== 'rescue' && rescueOnly.length > 0) throw usage(`--${rescueOnly[0]} belongs to the rescue command`);
  if (kind === 'clean') {
    if (deployOnly.length > 0) throw usage(`--${deployOnly[0]} belongs to the deploy command`);
    return { kind, ...common };
  }
  if (kind === 'rescue') {
    if (deployOnly.length > 0) throw usage(`--${deployOnly[0]} belongs to the deploy command`);
    const file = values['rescue-password-file'];
    if (!file) throw usage('--rescue-password-file is required to rescue (a file whose first line is the password)');
    return { kind, ...common, rescuePasswordFile: file, requireHashedPassword: values['require-hashed-password'] ?? false };
  }
  const url = values['image-url'];
  if (!url) throw usage('--image-url is required to deploy');
  if (!/^https?:\/\/[^/]/i.test(url)) throw usage(`--image-url must be an http(s) URL the agent can reach, got "${url}"`);
  if (!values['image-checksum']) throw usage('--image-checksum is required to deploy (e.g. sha256:<hex of the image file as served>)');
  const image: DeployImage = { url, checksum: parseImageChecksum(values['image-checksum']), diskFormat: values['disk-format'] ?? 'raw' };
  return { kind, ...common, image, rootDevice: parseRootDeviceHints(values['root-device'] ?? []), skipCleaning: values['skip-cleaning'] ?? false };
}

const isCollectLogsPolicy = (value: string): value is CollectLogsPolicy => (COLLECT_LOGS_POLICIES as readonly string[]).includes(value);

const HINT_NAMES = new Set(['size', 'model', 'wwn', 'serial', 'vendor', 'wwn_with_extension', 'wwn_vendor_extension', 'name', 'hctl', 'by_path', 'tran', 'rotational']);

/** `name=/dev/sda` pairs into IPA's root device hints (ipa-protocol.md §9.10); a bare integer size and a boolean rotational are typed. */
export function parseRootDeviceHints(pairs: readonly string[]): Record<string, string | number | boolean> | undefined {
  if (pairs.length === 0) return undefined;
  const hints: Record<string, string | number | boolean> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    const key = at > 0 ? pair.slice(0, at).trim() : '';
    const value = pair.slice(at + 1).trim();
    if (!HINT_NAMES.has(key) || value === '') throw usage(`--root-device "${pair}" must be <hint>=<value> with a hint among ${[...HINT_NAMES].join(', ')}`);
    hints[key] = key === 'size' && /^\d+$/.test(value) ? Number(value)
      : key === 'rotational' && /^(true|false)$/i.test(value) ? value.toLowerCase() === 'true' : value;
  }
  return hints;
}
