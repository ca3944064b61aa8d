/**
 * The conductor's own pino log, as the command line shows it. Without
 * `--verbose` only warnings and errors reach stderr, one line each and
 * without a stack (`ingot-conductor: warning: agent unreachable; retrying
 * command: Agent unreachable: https://...: connect ECONNREFUSED ...`), and
 * not the failures the command reports itself in its own line. With
 * `--verbose` everything from debug up, stacks included: pino-pretty on a
 * terminal (synchronous, so nothing is lost when the command exits), JSON
 * lines otherwise.
 */
import { destination, pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export interface CliLogOptions {
  verbose: boolean;
  /** Without --verbose: where each warning line goes (without its newline). */
  warn: (line: string) => void;
  /** With --verbose: where the log goes. Default stderr. */
  stream?: NodeJS.WritableStream;
  /** With --verbose: a terminal gets the readable form. */
  isTTY?: boolean;
}

const redact = { paths: ['token', '*.token', 'agent_token', '*.agent_token'], censor: '******' };

/**
 * Log messages of the library that the command line turns into lines of its
 * own (the failure line, "could not collect the ramdisk logs"): shown once,
 * there, rather than twice.
 */
const REPORTED_BY_THE_COMMAND = new Set([
  'cleaning failed', 'deploy failed', 'rescue failed', 'could not collect the ramdisk logs; carrying on without them',
]);

interface Record {
  level?: number;
  msg?: string;
  err?: { message?: string; code?: string };
  reason?: unknown;
}

/** One warning or error record as one line, without its stack. */
export function warningLine(record: Record): string | undefined {
  if (!record.msg || REPORTED_BY_THE_COMMAND.has(record.msg)) return undefined;
  const detail = record.err?.message ?? (typeof record.reason === 'string' ? record.reason : undefined);
  const text = `${(record.level ?? 40) >= 50 ? 'error' : 'warning'}: ${record.msg}${detail ? `: ${detail}` : ''}`;
  return text.replace(/\s+/g, ' ').trim();
}

function warningLines(warn: (line: string) => void): { write(chunk: string): void } {
  return {
    write(chunk) {
      for (const json of chunk.split('\n').filter(Boolean)) {
        let record: Record;
        try {
          record = JSON.parse(json) as Record;
        } catch {
          continue;
        }
        const line = warningLine(record);
        if (line) warn(line);
      }
    },
  };
}

export function createCliLogger(options: CliLogOptions): Logger {
  if (!options.verbose) return pino({ level: 'warn', redact }, warningLines(options.warn));
  const stream = options.isTTY
    ? pretty({ destination: options.stream ?? 2, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
    : options.stream ?? destination({ fd: 2, sync: true });
  return pino({ level: 'debug', redact }, stream);
}
