import fc from 'fast-check';
import { expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import { fuzz } from '../../../test/support/fuzz.ts';
import { isCryptHash } from '@ingot/protocol';
import { parseFinalizeRescueParams } from './rescue-password.ts';

/** Strings near a crypt hash: prefixes, separators and the characters that would break a shadow line. */
const hashLike = fc.tuple(
  fc.constantFrom('$6$', '$5$', '$1$', '$2b$', '$y$', '$gy$', '$7$', '$9$', '$', '', '6$', '$6', '$$'),
  fc.array(fc.oneof(fc.stringMatching(/^[./0-9A-Za-z]{0,20}$/), fc.constantFrom('$', ':', '\n', '\r', ' ', '\0', 'rounds=5000', ',', 'é', '\u2028')), { maxLength: 8 }),
).map(([prefix, parts]) => `${prefix}${parts.join('')}`);

it('never accepts a hash that could break a shadow or password-file line, nor one of an unknown method', async () => {
  await fuzz('isCryptHash accepts only known methods without separators or spaces', 1_000, fc.property(fc.oneof(hashLike, fc.string()), (hash) => {
    if (!isCryptHash(hash)) return;
    expect(hash).not.toMatch(/[:\s\0]/);
    expect(hash).toMatch(/^\$(1|2[abxy]|5|6|7|y|gy)\$/);
  }));
});

it('answers any finalize_rescue parameters with a value or an INGOT_INVALID_PARAMS that never echoes the password', async () => {
  await fuzz('parseFinalizeRescueParams refuses cleanly and never echoes the password', 1_000, fc.property(
    fc.oneof(hashLike, fc.string({ minLength: 6 }), fc.anything()),
    fc.oneof(fc.boolean(), fc.constant(undefined), fc.anything()),
    (password, hashed) => {
      let parsed;
      try {
        parsed = parseFinalizeRescueParams({ rescue_password: password, ...(hashed === undefined ? {} : { hashed }) });
      } catch (error) {
        expect(isIngotError(error, 'INGOT_INVALID_PARAMS')).toBe(true);
        // The refusal reads the same whatever the password was: the same refusal of a stand-in must equal it
        // (a password like "$2b$, " is text of the fixed message, found at scale 100, not an echo).
        if (typeof password === 'string' && password.length >= 6) {
          const message = (error as Error).message;
          let standIn = '';
          try { parseFinalizeRescueParams({ rescue_password: password.replace(/./gsu, 'Q').replace(/^/, '#'), ...(hashed === undefined ? {} : { hashed }) }); } catch (other) { standIn = (other as Error).message; }
          if (message !== standIn) expect(message).not.toContain(password);
        }
        return;
      }
      expect(parsed.rescuePassword).toBe(password);
      if (parsed.hashed) expect(isCryptHash(parsed.rescuePassword)).toBe(true);
    },
  ));
});
