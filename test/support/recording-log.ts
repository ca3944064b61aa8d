/**
 * A pino logger that keeps what it writes, so that a test proving something
 * never happens can first wait for the code under test to report that it was
 * tried and refused (a lookup refused, a certificate rejected), instead of
 * sleeping and hoping it had the time to try.
 */
import { pino, type Logger } from 'pino';

export interface LogRecord {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface RecordingLog {
  log: Logger;
  /** Every record written so far, oldest first. */
  readonly records: readonly LogRecord[];
  /** The records with this message whose fields pass `where`. */
  matching(msg: string, where?: (record: LogRecord) => boolean): LogRecord[];
}

/** Records at debug and above; with INGOT_TEST_LOG set, also echoes every line to stdout. */
export function createRecordingLog(): RecordingLog {
  const records: LogRecord[] = [];
  const echo = Boolean(process.env.INGOT_TEST_LOG);
  const log = pino({ level: 'debug' }, {
    write(line: string) {
      records.push(JSON.parse(line) as LogRecord);
      if (echo) process.stdout.write(line);
    },
  });
  return {
    log,
    records,
    matching: (msg, where = () => true) => records.filter((record) => record.msg === msg && where(record)),
  };
}
