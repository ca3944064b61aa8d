import { randomBytes } from 'node:crypto';
import { encrypt } from 'unixcrypt';
import { IngotError } from '@ingot/protocol';

const SALT_CHARACTERS = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * SHA-512 crypt of a rescue password (`$6$<16-character salt>$...`), what
 * Ironic stores and sends as `rescue_password` with `hashed: true`; any
 * glibc or busybox crypt(3) verifies it.
 */
export function hashRescuePassword(password: string): string {
  const salt = Array.from(randomBytes(16), (byte) => SALT_CHARACTERS[byte % 64]).join('');
  return encrypt(password, `$6$${salt}`);
}

/**
 * The rescue password from a file's text: its first line, without the line
 * end. Empty is refused: a rescue user without a password could not log in
 * (or could, without one). The password itself never appears in the error.
 */
export function readRescuePassword(text: string, source: string): string {
  const password = text.split(/\r?\n/, 1)[0] ?? '';
  if (password.length === 0) throw new IngotError('INGOT_CONFIG_INVALID', { details: `${source}: the rescue password file's first line is empty; write the password on it` });
  return password;
}
