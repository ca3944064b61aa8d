import { describe, expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import { digestsMatch, parseExpectedDigest } from './checksum.ts';

const sha256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

describe('checksum comparison', () => {
  it('matches digests whatever their case, unlike IPA which fails on uppercase', () => {
    expect(digestsMatch(sha256, sha256.toUpperCase())).toBe(true);
    expect(digestsMatch(` ${sha256}\n`, sha256)).toBe(true);
  });

  it('never matches an empty or shorter digest', () => {
    expect(digestsMatch('', '')).toBe(false);
    expect(digestsMatch(sha256.slice(0, 32), sha256)).toBe(false);
    expect(digestsMatch(sha256, sha256.replace(/.$/, '0'))).toBe(false);
  });

  it('lowercases a valid expected digest and refuses one of the wrong length or alphabet before any download', () => {
    expect(parseExpectedDigest({ algorithm: 'sha256', value: sha256.toUpperCase() }).value).toBe(sha256);
    for (const value of [sha256.slice(1), `${sha256.slice(1)}g`, '']) {
      let error: unknown;
      try {
        parseExpectedDigest({ algorithm: 'sha256', value });
      } catch (e) {
        error = e;
      }
      expect(isIngotError(error, 'INGOT_INVALID_PARAMS')).toBe(true);
    }
    expect(() => parseExpectedDigest({ algorithm: 'sha1' as 'md5', value: 'a'.repeat(40) })).toThrow(/unsupported/);
    expect(parseExpectedDigest({ algorithm: 'md5', value: 'D41D8CD98F00B204E9800998ECF8427E' }).value).toBe('d41d8cd98f00b204e9800998ecf8427e');
  });
});
