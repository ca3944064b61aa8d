/**
 * The logger's last line of defence: whatever a log line holds, the agent's
 * token does not leave the process in it. Redacting keys (log.ts) and URLs
 * (redactUrl) covers the places we know; this covers the ones we missed, by
 * replacing the token in the serialized line itself, also where it sits
 * percent-encoded (`%41` for `A`, any mix of encoded and plain characters,
 * double-encoded `%2541`) or JSON-escaped. It cannot see a token transformed
 * otherwise (base64, split across lines); the request log shows nothing of a
 * request but known-safe parts for that reason (api/request-log.ts).
 */
export const SCRUBBED = '***';

/** Tokens held earlier still hide: a token the conductor replaced may still be replayed. */
const REMEMBERED_SECRETS = 8;

/** Returns a function that replaces every current (and recently held) secret in a line. */
export function createSecretScrubber(secrets: () => Iterable<string | undefined>): (line: string) => string {
  const remembered: string[] = [];
  let pattern: RegExp | undefined;
  let patternKey = '';

  return (line) => {
    for (const secret of secrets()) {
      if (!secret || remembered.includes(secret)) continue;
      remembered.push(secret);
      if (remembered.length > REMEMBERED_SECRETS) remembered.shift();
    }
    if (remembered.length === 0) return line;
    const key = remembered.join('\n');
    if (key !== patternKey) {
      // Longest first, so that a secret containing another is hidden whole.
      pattern = new RegExp([...remembered].sort((a, b) => b.length - a.length).map(secretPattern).join('|'), 'g');
      patternKey = key;
    }
    return line.replace(pattern!, SCRUBBED);
  };
}

/** Each character as itself (JSON-escaped where JSON escapes it) or as its percent-encoded UTF-8 bytes. */
function secretPattern(secret: string): string {
  return [...secret].map((char) => {
    const forms = [escapeRegExp(JSON.stringify(char).slice(1, -1))];
    if (char !== JSON.stringify(char).slice(1, -1)) forms.push(escapeRegExp(char));
    forms.push([...Buffer.from(char, 'utf8')].map((byte) => `%(?:25)*${hexPattern(byte)}`).join(''));
    if (char === ' ') forms.push('\\+');
    return `(?:${forms.join('|')})`;
  }).join('');
}

/** `%4a` and `%4A` are the same byte. */
function hexPattern(byte: number): string {
  return [...byte.toString(16).padStart(2, '0')].map((digit) => (/[a-f]/.test(digit) ? `[${digit}${digit.toUpperCase()}]` : digit)).join('');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
