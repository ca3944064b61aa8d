import fc from 'fast-check';
import { expect, it } from 'vitest';
import { fuzz } from '../../../../test/support/fuzz.ts';
import { oddString, parsesOrRefuses } from '../../../../test/support/fuzz-inputs.ts';
import { imageFileName, parseChecksumFile, resolveChecksumFile } from './checksums.ts';

/** md5, sha256, sha384 or sha512 hex (from bytes: fc.stringMatching is slow on long patterns). */
const digest = fc.constantFrom(16, 32, 48, 64).chain((bytes) => fc.uint8Array({ minLength: bytes, maxLength: bytes })).map((bytes) => Buffer.from(bytes).toString('hex'));
/** Image names as they appear in URLs and checksum files: spaces, parentheses, escapes, unicode, `*`. */
const name = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._-]{1,30}$/),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).filter((s) => !/[/\\\n\r#?%]/.test(s) && s.trim() === s && s !== '' && !s.startsWith('*')),
  fc.constantFrom('disk (1).img', 'a=b.img', 'SHA256 (x) = y.img', 'image.qcow2'),
).filter((s) => s !== '.' && s !== '..'); // not a file name a URL path can end in
/** Lines that are not the image's: comments, other files, PGP armour, blank lines. */
const noise = fc.oneof(
  fc.constantFrom('', '# comment', '-----BEGIN PGP SIGNED MESSAGE-----', 'Hash: SHA256', '-----BEGIN PGP SIGNATURE-----', 'iQIzBAEBCAAdFiEE', '   '),
  fc.tuple(digest, fc.stringMatching(/^other-[a-z]{1,8}\.img$/)).map(([hex, other]) => `${hex}  ${other}`),
);

it('reads any text as a checksum file: a lower-case digest of a known length, or INGOT_IMAGE_CHECKSUM_SPEC', async () => {
  await fuzz('parseChecksumFile on any text', 300, fc.property(
    fc.oneof(oddString, fc.array(fc.oneof(oddString, noise, digest), { maxLength: 8 }).map((lines) => lines.join('\n'))),
    fc.oneof(oddString, name),
    (text, fileName) => {
      const outcome = parsesOrRefuses(() => parseChecksumFile(text, fileName), ['INGOT_IMAGE_CHECKSUM_SPEC'], /checksum file/);
      if ('value' in outcome) expect(outcome.value).toMatch(/^[0-9a-f]{32}([0-9a-f]{32}){0,3}$/);
    },
  ));
});

it('finds the digest it was given in a GNU or BSD checksum file it renders, among other lines', async () => {
  await fuzz('parseChecksumFile reads back a rendered checksum file', 250, fc.property(
    digest, name, fc.constantFrom('gnu', 'gnu-binary', 'bsd', 'bare'), fc.array(noise, { maxLength: 4 }), fc.array(noise, { maxLength: 4 }),
    fc.boolean(), fc.constantFrom('\n', '\r\n'),
    (hex, file, style, before, after, upper, eol) => {
      const shown = upper ? hex.toUpperCase() : hex;
      const algorithm = { 32: 'MD5', 64: 'SHA256', 96: 'SHA384', 128: 'SHA512' }[hex.length as 32];
      const line = style === 'gnu' ? `${shown}  ${file}` : style === 'gnu-binary' ? `${shown} *${file}` : style === 'bsd' ? `${algorithm} (${file}) = ${shown}` : shown;
      const text = (style === 'bare' ? [line] : [...before, line, ...after]).join(eol);
      const url = `https://images.example/dir/${encodeURIComponent(file)}?sig=x`;
      expect(parseChecksumFile(text, imageFileName(url))).toBe(hex);
      expect(resolveChecksumFile({ kind: 'file', url, algorithm: null, source: 'checksum' }, text, url, { md5Allowed: true }).expected).toBe(hex);
    },
  ));
});
