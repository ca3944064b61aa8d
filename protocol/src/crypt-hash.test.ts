import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cryptSha512, isCryptHash } from './crypt-hash.ts';

const PASSWORD = 'correct horse battery staple ü';

describe('the rescue password hash, on both sides of finalize_rescue', () => {
  it('is SHA-512 crypt with a fresh 16-character salt, as openssl passwd -6 computes it', () => {
    const hash = cryptSha512(PASSWORD);
    const salt = /^\$6\$([./0-9A-Za-z]{16})\$[./0-9A-Za-z]{86}$/.exec(hash)?.[1];
    expect(salt).toBeDefined();
    expect(execFileSync('openssl', ['passwd', '-6', '-salt', salt!, '-stdin'], { input: PASSWORD, encoding: 'utf8' }).trim()).toBe(hash);
    expect(cryptSha512(PASSWORD)).not.toBe(hash); // a fresh salt each time
  });

  it('accepts the crypt methods a system may know and refuses anything that could break a shadow line', () => {
    for (const hash of ['$6$abc$def', '$5$rounds=6000$abc$def', '$1$abc$def', '$2b$12$abcdefghijklmnopqrstuv', '$y$j9T$abc$def']) expect(isCryptHash(hash)).toBe(true);
    for (const hash of ['plain', '$6$abc$def\nroot::0:0', '$6$abc:def', '$9$abc$def', '$6$ab c$d', '']) expect(isCryptHash(hash)).toBe(false);
  });
});
