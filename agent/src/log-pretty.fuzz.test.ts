import fc from 'fast-check';
import { expect, it } from 'vitest';
import { fuzz } from '../../test/support/fuzz.ts';
import { createAgentLogging } from './log.ts';

/** Tokens as Ironic issues them, and preset ones with characters JSON escapes or percent-encoding changes. */
const token = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_-]{43}$/),
  fc.tuple(fc.stringMatching(/^[A-Za-z0-9]{16,30}$/), fc.constantFrom('"', '\\', '\n', ' ', '/', 'é', '%', '+'), fc.stringMatching(/^[A-Za-z0-9]{4,10}$/)).map((parts) => parts.join('')),
);
/** How a token may sit in a value: plain, percent-encoded, in a URL's query. */
const placed = (secret: string) => fc.constantFrom(secret, encodeURIComponent(secret), `http://c:6385/v1/x?agent_token=${encodeURIComponent(secret)}`, `see ${secret}.`);
const text = fc.string({ unit: 'binary', maxLength: 40 });

it('writes every event as one line without the held token, whatever its message, fields and error hold', async () => {
  await fuzz('pretty log lines: one line each, no token', 1_000, fc.property(
    token.chain((secret) => fc.tuple(
      fc.constant(secret),
      fc.tuple(text, fc.option(placed(secret), { nil: undefined })).map(([before, inserted]) => `${before}${inserted ?? ''}`),
      fc.dictionary(fc.stringMatching(/^[a-z][a-zA-Z]{0,8}$/), fc.oneof(text, fc.integer(), fc.boolean(), placed(secret), fc.array(fc.oneof(text, placed(secret)), { maxLength: 3 }), fc.record({ deep: placed(secret) })), { maxKeys: 5 }),
      fc.option(fc.tuple(text, placed(secret)).map(([a, b]) => new Error(`${a}${b}`)), { nil: undefined }),
      fc.constantFrom('info', 'warn', 'error') as fc.Arbitrary<'info' | 'warn' | 'error'>,
    )),
    ([secret, message, fields, error, level]) => {
      const out: string[] = [];
      const { log } = createAgentLogging({
        format: 'pretty', level: 'info', stacks: false,
        stdout: { write: (line: string) => out.push(line) }, secrets: () => [secret],
      });
      log[level]({ ...fields, ...(error ? { err: error } : {}) }, message);
      expect(out).toHaveLength(1);
      const line = out[0]!;
      expect(line.endsWith('\n')).toBe(true);
      expect(line.slice(0, -1)).not.toMatch(/[\r\n]/);
      expect(line).not.toContain(secret);
      expect(line).not.toContain(encodeURIComponent(secret));
      expect(line).not.toContain(JSON.stringify(secret).slice(1, -1));
    },
  ));
});
