import { IngotError, isCryptHash } from '@ingot/protocol';

export interface FinalizeRescueParams {
  /** A crypt hash (hashed=true) or the plain password. */
  rescuePassword: string;
  hashed: boolean;
}

/** The longest plain password accepted: far beyond any a person types, short of a denial of service. */
const MAX_PASSWORD_LENGTH = 4096;

/**
 * `rescue.finalize_rescue`'s parameters (ipa-protocol.md 4.1): `rescue_password`
 * and `hashed` (default false). Errors name the field and never echo its value.
 */
export function parseFinalizeRescueParams(params: Record<string, unknown>): FinalizeRescueParams {
  const { rescue_password: password, hashed = false } = params;
  if (typeof hashed !== 'boolean') {
    throw new IngotError('INGOT_INVALID_PARAMS', { details: '"hashed" must be true or false' });
  }
  if (typeof password !== 'string' || password.length === 0) {
    throw new IngotError('INGOT_INVALID_PARAMS', { details: '"rescue_password" must be a non-empty string' });
  }
  if (hashed && !isCryptHash(password)) {
    throw new IngotError('INGOT_INVALID_PARAMS', {
      details: '"rescue_password" with "hashed": true must be a crypt(3) hash such as $6$<salt>$<hash> ($1$, $2b$, $5$, $6$, $7$, $y$ or $gy$; no colon, space or newline); send "hashed": false to have the agent hash a plain password',
    });
  }
  if (!hashed && password.length > MAX_PASSWORD_LENGTH) {
    throw new IngotError('INGOT_INVALID_PARAMS', { details: `"rescue_password" is longer than ${MAX_PASSWORD_LENGTH} characters` });
  }
  return { rescuePassword: password, hashed };
}
