import { describeInput, IngotError } from '@ingot/protocol';

/**
 * Every setting of the agent, declared once: its IPA kernel parameter (10.4),
 * the CLI flag for local runs (the same name without `ipa-`), its type,
 * default and help. The kernel command line is read first, flags override it.
 */
type Kind = 'string' | 'int' | 'bool' | 'list';

export interface Setting<K extends Kind = Kind> {
  param: string;
  kind: K;
  help: string;
  default?: string;
  /** The largest value an int setting takes (a port: 65535). */
  max?: number;
  /** The only values a string setting takes. */
  choices?: readonly string[];
  /** What the flag's value is called in --help (`--disk <path>`); default: the kind. */
  arg?: string;
}

/** What ingot-log-format takes (log.ts resolveLogFormat decides what `auto` means). */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormatSetting = (typeof LOG_FORMATS)[number];

export const settings = {
  apiUrl: { param: 'ipa-api-url', kind: 'list', arg: 'url', help: 'Conductor API URL(s), comma-separated or repeated; tried in order with failover' },
  insecure: { param: 'ipa-insecure', kind: 'bool', default: '0', help: "Do not verify the conductor's TLS certificate (never in production)" },
  caFile: { param: 'ipa-ca-file', kind: 'string', help: "CA bundle (PEM) to verify the conductor's certificate; default: the system store" },
  listenHost: { param: 'ipa-listen-host', kind: 'string', help: 'Address the agent API listens on (default :: in the ramdisk, 127.0.0.1 elsewhere)' },
  listenPort: { param: 'ipa-listen-port', kind: 'int', default: '9999', max: 65535, help: 'Port the agent API listens on' },
  advertiseHost: { param: 'ipa-advertise-host', kind: 'string', help: 'Address the conductor calls back (default: the source address of the route to the conductor)' },
  advertisePort: { param: 'ipa-advertise-port', kind: 'int', max: 65535, help: 'Port the conductor calls back (default: the listen port)' },
  advertiseProtocol: { param: 'ipa-advertise-protocol', kind: 'string', default: 'http', choices: ['http', 'https'], help: 'http or https; automatic TLS switches it to https' },
  enableAutoTls: { param: 'ipa-enable-auto-tls', kind: 'bool', default: '1', help: 'Serve HTTPS with a self-signed certificate when the conductor supports agent_verify_ca (API 1.68)' },
  tlsCertFile: { param: 'ipa-tls-cert-file', kind: 'string', help: 'Serve HTTPS with this certificate (PEM) instead of automatic TLS' },
  tlsKeyFile: { param: 'ipa-tls-key-file', kind: 'string', help: 'Key (PEM) of --tls-cert-file' },
  tlsMinVersion: { param: 'ipa-tls-min-version', kind: 'string', default: '1.2', choices: ['1.2', '1.3'], help: 'Lowest TLS version served and used: 1.2 or 1.3' },
  lookupTimeout: { param: 'ipa-lookup-timeout', kind: 'int', default: '600', help: 'Seconds to keep looking the node up before giving up' },
  lookupInterval: { param: 'ipa-lookup-interval', kind: 'int', default: '1', help: 'Shortest wait in seconds between lookups (jittered exponential back-off, capped at 60 s)' },
  agentToken: { param: 'ipa-agent-token', kind: 'string', help: 'Pre-set agent token (virtual media); the lookup then answers ******' },
  ironicApiVersion: { param: 'ipa-ironic-api-version', kind: 'string', help: 'Conductor API version to use instead of discovering it (X.Y)' },
  httpRequestTimeout: { param: 'ipa-http-request-timeout', kind: 'int', default: '30', help: 'Seconds before a request to the conductor times out' },
  globalRequestId: { param: 'ipa-global-request-id', kind: 'string', help: 'Sent as X-OpenStack-Request-ID to the conductor' },
  networkInterface: { param: 'ipa-network-interface', kind: 'string', help: 'Interface whose address is advertised' },
  ipLookupAttempts: { param: 'ipa-ip-lookup-attempts', kind: 'int', default: '6', help: 'Attempts to find the address to advertise' },
  ipLookupSleep: { param: 'ipa-ip-lookup-timeout', kind: 'int', default: '10', help: 'Seconds between those attempts' },
  guardSpecialFilesystems: { param: 'ipa-guard-special-filesystems', kind: 'bool', default: '1', help: 'Refuse to erase disks holding shared filesystems (GPFS, VMFS)' },
  requireTokenOnGet: { param: 'ipa-require-token-on-get', kind: 'bool', default: '0', help: 'Demand the token on GET /v1/commands even before a token-bearing GET was seen (Ironic 21.4 polls without it)' },
  commandWaitLimit: { param: 'ipa-command-wait-limit', kind: 'int', default: '50', help: 'Longest seconds a ?wait=true request blocks before answering with the RUNNING result' },
  commandHistoryLimit: { param: 'ipa-command-history-limit', kind: 'int', default: '200', help: 'Finished command results kept for GET /v1/commands/' },
  // The API against hostile clients (README, "The agent's API against hostile clients"); Ingot's own, IPA has no such settings.
  apiBodyLimit: { param: 'ingot-api-body-limit', kind: 'int', default: '16', help: 'Largest request body in MiB; a larger one is refused with 413 from its Content-Length, before it is read' },
  apiHeadersTimeout: { param: 'ingot-api-headers-timeout', kind: 'int', default: '10', help: 'Seconds a client has to send a request\'s headers (from connecting, or from the start of the request) before 408 and close' },
  apiRequestTimeout: { param: 'ingot-api-request-timeout', kind: 'int', default: '60', help: 'Seconds a client has to send a whole request, body included, before 408 and close; never limits the answer (?wait=true)' },
  apiMaxConnections: { param: 'ingot-api-max-connections', kind: 'int', default: '1000', help: 'Open API connections at most; more are closed at once (keep it below the open-file limit)' },
  imageDownloadConnectionTimeout: { param: 'ipa-image-download-connection-timeout', kind: 'int', default: '60', help: 'Seconds without a byte from the image server before the download is resumed (Range) or retried' },
  imageDownloadConnectionRetries: { param: 'ipa-image-download-connection-retries', kind: 'int', default: '9', help: 'Failed image-download attempts in a row (no new byte between them) tolerated before the write fails' },
  imageDownloadConnectionRetryInterval: { param: 'ipa-image-download-connection-retry-interval', kind: 'int', default: '10', help: 'Longest seconds between image-download attempts (the back-off starts at 1 s and doubles up to it)' },
  imageDownloadMaxDuration: { param: 'ipa-image-download-max-duration', kind: 'int', default: '0', help: 'Seconds an image write may take in all, retries included; 0 means no limit' },
  ignoreBootloaderFailure: { param: 'ipa-ignore-bootloader-failure', kind: 'bool', default: '0', help: 'Let image.install_bootloader succeed when the bootloader install fails, unless its ignore_bootloader_failure says otherwise' },
  debug: { param: 'ipa-debug', kind: 'bool', default: '0', help: 'Log at debug level' },
  logFormat: { param: 'ingot-log-format', kind: 'string', default: 'auto', choices: LOG_FORMATS, help: 'auto, json or pretty: auto is one readable line per event on a terminal, JSON elsewhere (pipes, files, the ramdisk); --log-file is always JSON' },
  bootif: { param: 'BOOTIF', kind: 'string', help: 'MAC of the interface the machine booted from (set by PXE)' },
  // Ingot extensions for runs outside the ramdisk.
  disk: { param: 'ingot-disk', kind: 'list', arg: 'path', help: 'A disk the agent may use: a file or a loop device (repeatable). Required outside the ramdisk, where no other disk is ever touched' },
  machine: { param: 'ingot-machine', kind: 'string', help: 'JSON file describing a simulated machine (interfaces, cpu, memory...) used instead of probing the host' },
  stateDir: { param: 'ingot-state-dir', kind: 'string', help: 'Where the TLS key and certificate and the rescue files are written (default /run/ingot in the ramdisk; elsewhere none: the key stays in memory)' },
  logFile: { param: 'ingot-log-file', kind: 'string', help: 'Also write the log to this file (included by log.collect_system_logs)' },
  imageStagingDir: { param: 'ingot-image-staging-dir', kind: 'string', help: 'Where a qcow2 image is staged and verified before qemu-img converts it (default: the temporary directory, the tmpfs in the ramdisk)' },
  managerDir: { param: 'ingot-manager-dir', kind: 'string', help: 'Directory of custom hardware-manager modules (*.js, *.mjs) to load' },
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof settings;

type ValueOf<K extends Kind> = K extends 'int' ? number : K extends 'bool' ? boolean : K extends 'list' ? string[] : string;

export type AgentConfig = {
  [N in SettingName]: (typeof settings)[N] extends { default: string } ? ValueOf<(typeof settings)[N]['kind']> : ValueOf<(typeof settings)[N]['kind']> | undefined;
};

/** `key=value` pairs of /proc/cmdline (values may be quoted); bare words become "1". */
export function parseKernelCmdline(text: string): Record<string, string> {
  // No prototype: a parameter named __proto__ is kept as one, not swallowed by the setter.
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const match of text.matchAll(/(\S+?)(?:=("[^"]*"|\S*))?(?:\s|$)/g)) {
    const key = match[1];
    if (!key) continue;
    const raw = match[2];
    params[key] = raw === undefined ? '1' : raw.replace(/^"(.*)"$/, '$1');
  }
  return params;
}

/** A value a setting does not take: what the setting expects and what it got, for a one-line refusal. */
export class SettingValueError extends Error {
  override readonly name = 'SettingValueError';
  constructor(readonly expected: string, readonly got: string) {
    super(`expected ${expected}, got ${got}`);
  }
}

/** What a setting accepts, in words: "a whole number from 0 to 65535", "one of 1.2, 1.3". */
function describeAccepted(setting: Setting): string {
  switch (setting.kind) {
    case 'int':
      return setting.max === undefined ? 'a whole number (0 or more)' : `a whole number from 0 to ${setting.max}`;
    case 'bool':
      return 'a boolean (1/0, true/false, yes/no, on/off)';
    case 'list':
      return setting.param === 'ipa-api-url' ? 'http(s) URLs, comma-separated' : 'any text';
    default:
      return setting.choices ? `one of ${setting.choices.join(', ')}` : 'any text';
  }
}

/**
 * Reads one setting's raw text (a kernel parameter, a flag's value) into its
 * type, or throws SettingValueError. The kernel command line and the CLI both
 * come here, so a value means the same wherever it is given.
 */
export function parseSettingValue(setting: Setting, text: string): unknown {
  const refuse = (got: string) => new SettingValueError(describeAccepted(setting), got);
  switch (setting.kind) {
    case 'list': {
      const items = (setting.param === 'ipa-api-url' ? text.split(',') : [text]).map((item) => item.trim()).filter(Boolean);
      const notUrl = setting.param === 'ipa-api-url' ? items.find((item) => !/^https?:\/\/.+/.test(item)) : undefined;
      if (notUrl !== undefined) throw refuse(describeInput(notUrl));
      return items;
    }
    case 'int': {
      // Digits only, as Python's int(): Number() would read "" as 0, "0x10" as 16 and "1e3" as 1000.
      const value = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
      if (!Number.isSafeInteger(value)) throw refuse(describeInput(text));
      if (setting.max !== undefined && value > setting.max) throw refuse(String(value));
      return value;
    }
    case 'bool': {
      const word = text.toLowerCase();
      if (['1', 'true', 'yes', 'on', ''].includes(word)) return true;
      if (['0', 'false', 'no', 'off'].includes(word)) return false;
      throw refuse(describeInput(text));
    }
    default:
      if (setting.choices && !setting.choices.includes(text)) throw refuse(describeInput(text));
      return text;
  }
}

function parseValue(setting: Setting, raw: string | string[], source: string): unknown {
  const fail = (why: string) => new IngotError('INGOT_CONFIG_INVALID', { details: `${source} ${why}` });
  try {
    // A list gathers every repetition; any other setting takes its last.
    if (setting.kind === 'list') return (Array.isArray(raw) ? raw : [raw]).flatMap((item) => parseSettingValue(setting, item) as string[]);
    return parseSettingValue(setting, last(raw, fail));
  } catch (error) {
    if (error instanceof SettingValueError) throw fail(`must be ${error.expected}, got ${error.got}`);
    throw error;
  }
}

/** A repeated flag counts once, the last one winning; an empty repetition is no value at all. */
function last(raw: string | string[], fail: (why: string) => IngotError): string {
  const text = Array.isArray(raw) ? raw.at(-1) : raw;
  if (typeof text !== 'string') throw fail('has no value');
  return text;
}

/**
 * Resolves the configuration: defaults, then the kernel command line (and
 * virtual-media parameters merged over it by the caller), then CLI flags.
 */
export function resolveConfig(input: { kernel?: Record<string, string>; flags?: Partial<Record<SettingName, string | string[] | boolean>> }): AgentConfig {
  const config: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(settings) as [SettingName, Setting][]) {
    let value: unknown = setting.default === undefined ? undefined : parseValue(setting, setting.default, 'default');
    const fromKernel = input.kernel?.[setting.param];
    if (fromKernel !== undefined) value = parseValue(setting, fromKernel, `kernel parameter ${setting.param}`);
    const fromFlag = input.flags?.[name];
    if (fromFlag !== undefined) {
      if (typeof fromFlag === 'boolean' && setting.kind !== 'bool') {
        throw new IngotError('INGOT_CONFIG_INVALID', { details: `flag --${flagName(name)} takes a ${setting.kind}, not the boolean ${fromFlag}` });
      }
      value = typeof fromFlag === 'boolean' ? fromFlag : parseValue(setting, fromFlag, `flag --${flagName(name)}`);
    }
    config[name] = value;
  }
  const result = config as AgentConfig;
  if (result.apiHeadersTimeout < 1 || result.apiRequestTimeout < result.apiHeadersTimeout) {
    throw new IngotError('INGOT_CONFIG_INVALID', { details: `ingot-api-headers-timeout (${result.apiHeadersTimeout}) must be at least 1 and at most ingot-api-request-timeout (${result.apiRequestTimeout})` });
  }
  if (result.apiBodyLimit < 1 || result.apiMaxConnections < 1) throw new IngotError('INGOT_CONFIG_INVALID', { details: 'ingot-api-body-limit and ingot-api-max-connections must be at least 1' });
  if (Boolean(result.tlsCertFile) !== Boolean(result.tlsKeyFile)) throw new IngotError('INGOT_CONFIG_INVALID', { details: '--tls-cert-file and --tls-key-file go together' });
  return result;
}

/** `listenPort` → `listen-port`. */
export function flagName(name: SettingName): string {
  return settings[name].param.replace(/^(ipa|ingot)-/, '').replace(/^BOOTIF$/, 'bootif');
}
