import { randomBytes } from 'node:crypto';
import { encrypt } from 'unixcrypt';

/**
 * The crypt(3) hashes `rescue.finalize_rescue` carries (ipa-protocol.md 4.2):
 * a conductor sends one with `hashed: true`, an agent makes one from a plain
 * password; both sides use this module.
 */

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
 * busybox and `openssl passwd -6` compute it, and as Ironic stores a rescue
 * password (unixcrypt, a pure-JS implementation, so the ramdisk needs no
 * native addon for it).
 */
export function cryptSha512(password: string, salt: string = newCryptSalt()): string {
  return encrypt(password, `$6$${salt}`);
}

/** Whether `hash` is shaped like a crypt(3) hash string of a known method. */
export function isCryptHash(hash: string): boolean {
  return CRYPT_HASH.test(hash);
}
