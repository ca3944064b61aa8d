import type { DestinationStream } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { describeFailure } from '@ingot/protocol/cli';

/**
 * An error in a log line: its message (each cause said once, describeFailure)
 * and its code (`INGOT_*`, or Node's `ECONNREFUSED`); the stack only when
 * asked (--debug). pino's own serializer repeats a cause's message after the
 * error's and always adds the stack: a failed lookup was three lines of it.
 */
export function serializeError(error: unknown, options: { stack: boolean }): unknown {
  if (!(error instanceof Error)) return error;
  const out: Record<string, unknown> = { type: error.name, message: describeFailure(error) };
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  if (options.stack && error.stack) out.stack = error.stack;
  return out;
}

/** Fields every line has, or that only machines need: not shown in the human form. */
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'err', 'cmdId', 'progress']);
/** Beyond this a field's value is cut: the human line stays one line; the JSON form keeps it whole. */
const MAX_VALUE_CHARS = 120;

export interface PrettyStreamOptions {
  out: { write(text: string): unknown };
  colorize: boolean;
  /** Error stacks on the lines after the event's line (--debug). */
  stacks: boolean;
  /** Applied to every formatted line: the formatter unescapes JSON, so a secret is looked for again in what it printed. */
  scrub: (text: string) => string;
}

/**
 * One line per event for a person at a terminal: `[HH:MM:ss] WARN: message
 * key=value ...`, the time local, the level as a word, then the event's
 * plain fields (nested objects stay in the JSON form), an error's message and
 * code, and a command's progress in MiB. Synchronous: each line is written
 * before pino's call returns, as the JSON form is.
 */
export function createPrettyStream(options: PrettyStreamOptions): DestinationStream {
  const prettify = prettyFactory({
    colorize: options.colorize,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname,name',
    hideObject: true,
    messageFormat: (event, messageKey) => formatEvent(event, messageKey, options.stacks),
  });
  return {
    write(line: string) {
      options.out.write(options.scrub(prettify(line)));
    },
  };
}

/** The text after the level: message, fields, error, progress. */
export function formatEvent(event: Record<string, unknown>, messageKey: string, stacks: boolean): string {
  const parts = [String(event[messageKey] ?? '')];
  const progress = formatProgress(event.progress);
  if (progress) parts.push(progress);
  for (const [key, value] of Object.entries(event)) {
    if (HIDDEN.has(key) || key === messageKey) continue;
    const text = formatValue(value);
    if (text !== undefined) parts.push(`${key}=${text}`);
  }
  let line = parts.filter(Boolean).join(' ');
  const error = event.err as { message?: unknown; code?: unknown; stack?: unknown } | undefined;
  let stack = '';
  if (error && typeof error === 'object') {
    const message = String(error.message ?? 'unknown error');
    // describeFailure already names a Node error's code: `disk gone (ENOENT)`.
    line += `: ${message}${error.code === undefined || message.includes(String(error.code)) ? '' : ` (${String(error.code)})`}`;
    if (stacks && typeof error.stack === 'string') stack = `\n${error.stack.split('\n').slice(1).join('\n')}`;
  }
  return oneLine(line) + stack;
}

/** A tool's stderr in a message must not start a line of its own: line breaks and other control characters are shown escaped. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (char) => JSON.stringify(char).slice(1, -1));
}

function formatValue(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (Array.isArray(value)) {
    if (!value.every((item) => ['string', 'number', 'boolean'].includes(typeof item))) return undefined;
    return cut(value.join(','));
  }
  if (typeof value === 'string') return cut(/[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function cut(text: string): string {
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text;
}

const MiB = 1024 * 1024;

/** A command's progress (CommandProgress) or an image write's (bytesDone...), as `writing image 12.0/256.0 MiB (4%)`. */
function formatProgress(progress: unknown): string | undefined {
  if (!progress || typeof progress !== 'object') return undefined;
  const p = progress as Record<string, unknown>;
  const done = typeof p.done === 'number' ? p.done : typeof p.bytesDone === 'number' ? p.bytesDone : undefined;
  const total = typeof p.total === 'number' ? p.total : typeof p.bytesTotal === 'number' ? p.bytesTotal : undefined;
  const bytes = p.unit === 'bytes' || typeof p.bytesDone === 'number';
  const amount = (n: number) => (bytes ? (n / MiB).toFixed(1) : String(n));
  const words = [typeof p.stage === 'string' ? p.stage : ''];
  if (done !== undefined) {
    words.push(total === undefined ? amount(done) : `${amount(done)}/${amount(total)}`);
    words.push(bytes ? 'MiB' : typeof p.unit === 'string' ? p.unit : '');
    if (total) words.push(`(${Math.floor((done / total) * 100)}%)`);
  }
  if (typeof p.rateBytesPerSecond === 'number') words.push(`${(p.rateBytesPerSecond / MiB).toFixed(1)} MiB/s`);
  if (typeof p.message === 'string') words.push(p.message);
  return words.filter(Boolean).join(' ') || undefined;
}
