import { IngotError } from '@ingot/protocol';
import type { DigestAlgorithm } from '../checksum-spec.ts';

/**
 * The expected digest of the image AS SERVED (the compressed file when it is
 * compressed), as Glance's os_hash_value is computed. IPA compares with
 * Python's lowercase hexdigest() by plain equality, so an uppercase value
 * fails there (ipa-protocol.md 9.3); we compare case-insensitively.
 */
export type { DigestAlgorithm };

export interface ExpectedDigest {
  algorithm: DigestAlgorithm;
  value: string;
}

const hexLength: Record<DigestAlgorithm, number> = { md5: 32, sha256: 64, sha384: 96, sha512: 128 };

/** Validates the expected digest up front, so a typo fails before a byte is downloaded. Returns it lowercased. */
export function parseExpectedDigest(expected: ExpectedDigest): ExpectedDigest {
  const algorithm = expected.algorithm;
  if (!Object.hasOwn(hexLength, algorithm)) {
    throw new IngotError('INGOT_INVALID_PARAMS', { details: `unsupported image digest algorithm ${JSON.stringify(algorithm)}; use sha256, sha384, sha512 or md5` });
  }
  const value = expected.value.trim().toLowerCase();
  if (!/^[0-9a-f]+$/.test(value) || value.length !== hexLength[algorithm]) {
    throw new IngotError('INGOT_INVALID_PARAMS', {
      details: `the expected ${algorithm} digest must be ${hexLength[algorithm]} hexadecimal characters, got ${value.length} characters`,
    });
  }
  return { algorithm, value };
}

/** Case-insensitive comparison of two hex digests (one rule for the whole agent, in checksum-spec.ts). */
export { digestsEqual as digestsMatch } from '../checksum-spec.ts';
