import pino, { type DestinationStream, type Logger } from 'pino';
import { createSecretScrubber } from './log-secrets.ts';
import { createPrettyStream, serializeError } from './log-pretty.ts';

/** Keys whose values never reach a log line, wherever they sit (tokens, passwords, keys). */
export const redactedPaths = [
  'agent_token', '*.agent_token', '*.*.agent_token', 'token', '*.token',
  'config.agent_token', 'headers.authorization', '*.password', '*.rescue_password', 'key', '*.key', 'privateKey',
];

export interface LoggerOptions {
  level?: string;
  destination?: DestinationStream;
  /**
   * The secrets no line may carry, read at every line (the agent's token from
   * its Session): each is replaced by `***` in the serialized line, also
   * percent-encoded or JSON-escaped (log-secrets.ts).
   */
  secrets?: () => Iterable<string | undefined>;
  /** Error stacks in `err` (ipa-debug / --debug); otherwise an error is its message and code. */
  stacks?: boolean;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const scrub = options.secrets ? createSecretScrubber(options.secrets) : undefined;
  return pino(
    {
      name: 'ingot-agent',
      level: options.level ?? 'info',
      redact: { paths: redactedPaths, censor: '***' },
      serializers: { err: (error: unknown) => serializeError(error, { stack: options.stacks === true }) },
      ...(scrub ? { hooks: { streamWrite: scrub } } : {}),
    },
    options.destination,
  );
}

/**
 * ingot-log-format (config.ts LOG_FORMATS). `auto`: one readable line per event on a terminal, JSON anywhere else (a
 * pipe, a file, and always inside the ramdisk, whose console is read by
 * tools and by the e2e tests even when it is a TTY).
 */
export function resolveLogFormat(setting: string, where: { stdoutIsTty: boolean; inRamdisk: boolean }): 'json' | 'pretty' {
  if (setting === 'json' || setting === 'pretty') return setting;
  return where.stdoutIsTty && !where.inRamdisk ? 'pretty' : 'json';
}

/** A stream the agent logs to: stdout, or the --log-file destination. */
export interface LogOutput {
  write(text: string): unknown;
  /** Whether colours may be used (a terminal). */
  isTTY?: boolean;
}

export interface AgentLoggingOptions {
  format: 'json' | 'pretty';
  level: string;
  stacks: boolean;
  stdout: LogOutput;
  /** The --log-file stream, always JSON (log.collect_system_logs ships it; tools read it). */
  file?: DestinationStream & { flushSync?(): void };
  secrets: () => Iterable<string | undefined>;
  /** NO_COLOR (no-color.org) turns colours off on a terminal too. */
  noColor?: boolean;
}

/**
 * The agent's root logger: stdout in the chosen format, the log file in
 * JSON. The pretty form is pino-pretty's formatter called synchronously in
 * this thread (not a transport: the ramdisk runs the agent as one bundled
 * file, with no worker module to start), and every pretty line is scrubbed
 * of secrets again after formatting, as the JSON line was before it.
 */
export function createAgentLogging(options: AgentLoggingOptions): { log: Logger; flushSync(): void } {
  const scrub = createSecretScrubber(options.secrets);
  const stdout: DestinationStream = options.format === 'pretty'
    ? createPrettyStream({ out: options.stdout, colorize: options.stdout.isTTY === true && !options.noColor, stacks: options.stacks, scrub })
    : { write: (line: string) => options.stdout.write(line) };
  // Each stream takes every line the logger lets through (multistream's own default would drop debug).
  const entries: pino.StreamEntry[] = [{ stream: stdout, level: 'trace' }];
  if (options.file) entries.push({ stream: options.file, level: 'trace' });
  const log = createLogger({ level: options.level, destination: pino.multistream(entries), secrets: options.secrets, stacks: options.stacks });
  return {
    log,
    flushSync() {
      try {
        options.file?.flushSync?.();
      } catch {
        // a log file not yet open has nothing buffered
      }
    },
  };
}
