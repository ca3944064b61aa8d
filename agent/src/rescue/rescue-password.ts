import { randomBytes } from 'node:crypto';
import { encrypt } from 'unixcrypt';
import { IngotError } from '@ingot/protocol';

/** crypt(3)'s salt alphabet: 64 characters, so one random byte's low six bits pick one uniformly. */
const CRYPT_ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** glibc's largest SHA-crypt salt; busybox's `cryptpw` and `openssl passwd -6` take the same. */
const SALT_LENGTH = 16;

/**
 * Hash prefixes that the ramdisk's or a rescued system's crypt(3) may know:
 * MD5, bcrypt, SHA-256, SHA-512, scrypt, yescrypt and gost-yescrypt.
 * The hash is handed to the system's password database as it is, so only the
 * shape is checked: no colon or newline could ever split a shadow line.
 */
const CRYPT_HASH = /^\$(?:1|2[abxy]|5|6|7|y|gy)\$[./0-9A-Za-z$=,]{1,500}$/;

/** A fresh salt for SHA-512 crypt from the kernel's random source. */
export function newCryptSalt(): string {
  return [...randomBytes(SALT_LENGTH)].map((byte) => CRYPT_ALPHABET[byte & 63]).join('');
}

/**
 * SHA-512 crypt (`$6$<salt>$<hash>`, 5000 rounds, no `rounds=`), as glibc,
 * busybox and `openssl passwd -6` compute it (unixcrypt, a pure-JS
 * implementation, so the ramdisk needs no native addon for it).
 */
export function cryptSha512(password: string, salt: string = newCryptSalt()): string {
  return encrypt(password, `$6$${salt}`);
}

/** Whether `hash` is shaped like a crypt(3) hash string of a known method. */
export function isCryptHash(hash: string): boolean {
  return CRYPT_HASH.test(hash);
}

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
