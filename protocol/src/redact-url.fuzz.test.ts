import fc from 'fast-check';
import { expect, it } from 'vitest';
import { fuzz } from '../../test/support/fuzz.ts';
import { redactUrl } from './redact-url.ts';

/** A secret shaped like Ironic's tokens (43 URL-safe characters), or a signature. */
const secret = fc.stringMatching(/^[A-Za-z0-9_-]{16,43}$/);
const piece = fc.oneof(fc.string({ unit: 'grapheme-ascii', maxLength: 12 }), fc.constantFrom('?', '&', '#', '=', '[]', '[x]', '%', '%2', '%zz', '\\', '//', '@', ';', ' ', '/v1/commands/'));

it('never lets a secret placed anywhere after the path, or in the authority, through', async () => {
  await fuzz('redactUrl hides a secret in every query, fragment and userinfo form', 3_000, fc.property(
    fc.constantFrom('', 'http://', 'https://h:9999', 'https://h', '/', '/v1/commands/'),
    fc.array(piece, { maxLength: 6 }),
    fc.constantFrom('agent_token=', 'agent_token[]=', 'agent_token[x]=', 'wait=', 'x=', '', 'Agent_Token=', 'agent%5Ftoken='),
    fc.array(piece, { maxLength: 4 }),
    fc.constantFrom('?', '#', '&', '?a=1&', '?wait=true;'),
    secret,
    (base, before, name, after, separator, token) => {
      const url = `${base}${before.join('')}${separator}${name}${token}${after.join('')}`;
      // Only what follows a '?' or '#' is claimed: a secret in the path is the path.
      const cut = Math.min(...['?', '#'].map((c) => url.indexOf(c)).filter((i) => i >= 0));
      if (url.indexOf(token) < cut) return;
      expect(redactUrl(url)).not.toContain(token);
    },
  ));
});
