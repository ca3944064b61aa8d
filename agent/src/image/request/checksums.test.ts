import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import {
  algorithmForDigest, chooseChecksumSpec, digestsMatch, imageFileName, parseChecksumFile, parseExpectedDigest, resolveChecksumFile,
} from './checksums.ts';

// The fixtures keep each publisher's layout; their digests are the hash of the listed file name.
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const digestOf = (name: string, algorithm = 'sha256') => createHash(algorithm).update(name).digest('hex');
const md5On = { md5Allowed: true };
const md5Off = { md5Allowed: false };
const SHA256 = 'a'.repeat(64);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isIngotError(error) ? error.code : 'not an IngotError';
  }
  return undefined;
}

describe('chooseChecksumSpec', () => {
  it('prefers os_hash_algo and os_hash_value over the legacy checksum, as Glance images carry both', () => {
    const spec = chooseChecksumSpec({ checksum: 'b'.repeat(32), osHashAlgo: 'sha512', osHashValue: 'C'.repeat(128) }, md5On);
    expect(spec).toEqual({ kind: 'value', algorithm: 'sha512', expected: 'c'.repeat(128), source: 'os_hash' });
  });

  it('infers the algorithm of a legacy checksum from its length: 32, 64, 96 and 128 characters', () => {
    expect(algorithmForDigest('0'.repeat(32), md5On)).toBe('md5');
    expect(algorithmForDigest('0'.repeat(64), md5On)).toBe('sha256');
    expect(algorithmForDigest('0'.repeat(96), md5On)).toBe('sha384');
    expect(algorithmForDigest('0'.repeat(128), md5On)).toBe('sha512');
    expect(codeOf(() => algorithmForDigest('0'.repeat(40), md5On))).toBe('INGOT_INVALID_PARAMS');
  });

  it('refuses an MD5 checksum, by length or by name, unless the conductor allows MD5', () => {
    expect(codeOf(() => chooseChecksumSpec({ checksum: 'f'.repeat(32), osHashAlgo: null, osHashValue: null }, md5Off))).toBe('INGOT_INVALID_PARAMS');
    expect(codeOf(() => chooseChecksumSpec({ checksum: null, osHashAlgo: 'md5', osHashValue: 'f'.repeat(32) }, md5Off))).toBe('INGOT_INVALID_PARAMS');
    expect(chooseChecksumSpec({ checksum: 'F'.repeat(32), osHashAlgo: null, osHashValue: null }, md5On))
      .toEqual({ kind: 'value', algorithm: 'md5', expected: 'f'.repeat(32), source: 'checksum' });
  });

  it('falls back to the checksum when os_hash_algo names an algorithm the agent does not digest', () => {
    expect(chooseChecksumSpec({ checksum: SHA256, osHashAlgo: 'sha3_256', osHashValue: SHA256 }, md5Off))
      .toMatchObject({ algorithm: 'sha256', source: 'checksum' });
    expect(codeOf(() => chooseChecksumSpec({ checksum: null, osHashAlgo: 'blake2b', osHashValue: SHA256 }, md5Off))).toBe('INGOT_INVALID_PARAMS');
  });

  it('refuses an os_hash_value whose length does not fit os_hash_algo, before any byte is downloaded', () => {
    expect(codeOf(() => chooseChecksumSpec({ checksum: null, osHashAlgo: 'sha512', osHashValue: SHA256 }, md5On))).toBe('INGOT_INVALID_PARAMS');
  });

  it('defers to a checksum file when the value is a URL, keeping the stated algorithm', () => {
    expect(chooseChecksumSpec({ checksum: 'https://example.org/SHA256SUMS', osHashAlgo: null, osHashValue: null }, md5Off))
      .toEqual({ kind: 'file', url: 'https://example.org/SHA256SUMS', algorithm: null, source: 'checksum' });
    expect(chooseChecksumSpec({ checksum: null, osHashAlgo: 'SHA256', osHashValue: 'http://h/CHECKSUM' }, md5Off))
      .toEqual({ kind: 'file', url: 'http://h/CHECKSUM', algorithm: 'sha256', source: 'os_hash' });
  });
});

describe('parseChecksumFile', () => {

  it('finds an image in Ubuntu SHA256SUMS, where names carry the binary-mode star', () => {
    expect(parseChecksumFile(fixture('ubuntu-SHA256SUMS'), 'noble-server-cloudimg-amd64.img')).toBe(digestOf('noble-server-cloudimg-amd64.img'));
  });

  it('finds an image in Debian SHA512SUMS, in the two-space GNU format', () => {
    expect(parseChecksumFile(fixture('debian-SHA512SUMS'), 'debian-12-generic-amd64.raw')).toBe(digestOf('debian-12-generic-amd64.raw', 'sha512'));
  });

  it('finds an image in a CentOS Stream CHECKSUM file, in the BSD format, skipping the size comment', () => {
    const name = 'CentOS-Stream-GenericCloud-9-20240703.1.x86_64.qcow2';
    expect(parseChecksumFile(fixture('centos-CHECKSUM'), name)).toBe(digestOf(name));
  });

  it('finds an image in a PGP-signed Fedora CHECKSUM file, ignoring the armour', () => {
    const name = 'Fedora-Cloud-Base-Generic-40-1.14.x86_64.qcow2';
    expect(parseChecksumFile(fixture('fedora-CHECKSUM'), name)).toBe(digestOf(name));
  });

  it('takes a lone bare hash, with or without a trailing newline, lower-cased', () => {
    expect(parseChecksumFile(`${'AB'.repeat(32)}\n`, 'whatever.img')).toBe('ab'.repeat(32));
  });

  it('matches a listed path by its basename and a percent-encoded URL name by its decoded form', () => {
    expect(parseChecksumFile(`${SHA256}  ./images/disk.img\n`, 'disk.img')).toBe(SHA256);
    expect(parseChecksumFile(`${SHA256}  my disk.img\n`, 'my%20disk.img')).toBe(SHA256);
  });

  it('reads the escaped names sha256sum writes for files with a backslash in their name', () => {
    expect(parseChecksumFile(`\\${SHA256}  back\\\\slash.img\n${'b'.repeat(64)}  other.img\n`, 'back\\slash.img')).toBe(SHA256);
  });

  it('fails clearly on an empty file, a missing name, or a line without a usable digest', () => {
    expect(codeOf(() => parseChecksumFile('# only a comment\n\n', 'x.img'))).toBe('INGOT_IMAGE_CHECKSUM_SPEC');
    expect(() => parseChecksumFile(fixture('ubuntu-SHA256SUMS'), 'jammy.img')).toThrow(/does not list "jammy.img"/);
    expect(codeOf(() => parseChecksumFile('abc123  x.img\nfff  y.img\n', 'x.img'))).toBe('INGOT_IMAGE_CHECKSUM_SPEC');
  });
});

describe('resolveChecksumFile', () => {
  const url = 'https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img?sig=1';

  it('names the image by the basename of the first URL, ignoring the query', () => {
    expect(imageFileName(url)).toBe('noble-server-cloudimg-amd64.img');
  });

  it('infers the algorithm from the digest found, and refuses one that contradicts os_hash_algo', () => {
    const text = fixture('ubuntu-SHA256SUMS');
    expect(resolveChecksumFile({ kind: 'file', url: 'https://x/SHA256SUMS', algorithm: null, source: 'checksum' }, text, url, md5Off))
      .toEqual({ kind: 'value', algorithm: 'sha256', expected: digestOf('noble-server-cloudimg-amd64.img'), source: 'checksum' });
    expect(codeOf(() => resolveChecksumFile({ kind: 'file', url: 'https://x/SHA256SUMS', algorithm: 'sha512', source: 'os_hash' }, text, url, md5Off)))
      .toBe('INGOT_IMAGE_CHECKSUM_SPEC');
  });

  it('refuses an MD5 checksum file when MD5 is not allowed', () => {
    expect(codeOf(() => resolveChecksumFile({ kind: 'file', url: 'https://x/MD5SUMS', algorithm: null, source: 'checksum' }, `${'d'.repeat(32)}  a.img`, 'http://x/a.img', md5Off)))
      .toBe('INGOT_IMAGE_CHECKSUM_SPEC');
  });
});

describe('digestsMatch', () => {
  it('compares case-insensitively, where IPA fails on an uppercase expected hash', () => {
    expect(digestsMatch(SHA256, SHA256.toUpperCase())).toBe(true);
    expect(digestsMatch(SHA256, ` ${SHA256}\n`)).toBe(true);
  });

  it('never matches different digests or an empty one', () => {
    expect(digestsMatch(SHA256, 'b'.repeat(64))).toBe(false);
    expect(digestsMatch('', '')).toBe(false);
  });
});

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

describe('checksum files naming odd files (fuzz finding)', () => {
  it('finds an image whose name holds U+2028 or U+2029, in GNU and BSD lines alike', () => {
    const hex = '0'.repeat(64);
    expect(parseChecksumFile(`${hex}  a\u2028b.img`, 'a\u2028b.img')).toBe(hex);
    expect(parseChecksumFile(`SHA256 (a\u2029b.img) = ${hex}`, 'a\u2029b.img')).toBe(hex);
  });
});

