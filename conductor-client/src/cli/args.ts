/** Command line of `ingot-conductor`: parsed once here, with node:util parseArgs. */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { IngotError } from '@ingot/protocol';
import { normaliseMac, parseAddressFilter } from '../index.ts';

export const HELP = `Usage: ingot-conductor clean --mac <mac> [options]

Serves Ironic's lookup and heartbeat endpoints, waits for the agent of one
node to pair, then runs automated cleaning through it (every clean step with
priority > 0, highest first) and exits.

Options:
  --mac <mac>            MAC address of the node (repeatable, at least one).
                         The agent looks the node up by these.
  --node-uuid <uuid>     UUID of the node (default: a random one).
  --allow <addr|cidr>    Source address or CIDR allowed to look up and heartbeat
                         (repeatable; IPv4 or IPv6). Without it any address may.
  --listen <host:port>   Where to serve the API (default 127.0.0.1:6385). Give the
                         agent http://<host>:<port> as ipa-api-url.
  --timeout <seconds>    Give up if pairing and cleaning take longer (default 600).
  --poll-interval <s>    Seconds between polls of a running step (default 2).
  --require-tls          Refuse agents whose callback_url is not https.
  --verbose              Log details (JSON, to stderr).
  -h, --help             Show this help.

Exit status: 0 when cleaning succeeded, 1 when it failed, 2 on timeout,
64 on a usage error.
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
  verbose: boolean;
}

export type CliCommand = { kind: 'help' } | CleanCommand;

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
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw usage((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  if (positionals[0] !== 'clean' || positionals.length > 1) throw usage(`expected the command "clean", got "${positionals.join(' ')}"`);
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
  return {
    kind: 'clean', macs, nodeUuid: nodeUuid.toLowerCase(), allow, listenHost: host, port,
    timeoutSeconds: positiveNumber(values.timeout, '--timeout', 600),
    pollIntervalSeconds: positiveNumber(values['poll-interval'], '--poll-interval', 2),
    requireTls: values['require-tls'] ?? false,
    verbose: values.verbose ?? false,
  };
}
