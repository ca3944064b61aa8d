import pino, { type DestinationStream, type Logger } from 'pino';

/** Keys whose values never reach a log line, wherever they sit (tokens, passwords, keys). */
export const redactedPaths = [
  'agent_token', '*.agent_token', '*.*.agent_token', 'token', '*.token',
  'config.agent_token', 'headers.authorization', '*.password', '*.rescue_password', 'key', '*.key', 'privateKey',
];

export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      name: 'ingot-agent',
      level: options.level ?? 'info',
      redact: { paths: redactedPaths, censor: '***' },
      serializers: { err: pino.stdSerializers.err },
    },
    options.destination,
  );
}
