import { redactUrl } from './redact-url.ts';

/** Longest piece of an outside string repeated in an error message. */
const MAX_SHOWN = 80;

/**
 * How an error message shows a value that came from outside (a request body,
 * a config file), found by fuzzing (issue 10): `JSON.stringify(value)` of a
 * 5,000-deep value throws RangeError, of a 1 MiB string makes a 1 MiB message,
 * and of `{"<password>": 1}` or `["<token>"]` repeats the secret. So a string
 * is shown quoted and cut to 80 characters (through redactUrl when it may be
 * a URL), a number, boolean or null as itself, and a list or an object by its
 * kind only; a secret field's value only by its kind.
 */
export function describeInput(value: unknown, options: { secret?: boolean; url?: boolean } = {}): string {
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'function' || typeof value === 'symbol') return `a ${typeof value}`;
  if (options.secret) return typeof value === 'string' ? 'a string (not shown: it is a secret)' : `a ${typeof value}`;
  if (typeof value !== 'string') return String(value);
  const text = options.url ? redactUrl(value) : value;
  return JSON.stringify(text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text);
}
