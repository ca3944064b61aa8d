import pino, { type DestinationStream, type Logger } from 'pino';
import { createSecretScrubber } from './log-secrets.ts';

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
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const scrub = options.secrets ? createSecretScrubber(options.secrets) : undefined;
  return pino(
    {
      name: 'ingot-agent',
      level: options.level ?? 'info',
      redact: { paths: redactedPaths, censor: '***' },
      serializers: { err: pino.stdSerializers.err },
      ...(scrub ? { hooks: { streamWrite: scrub } } : {}),
    },
    options.destination,
  );
}
