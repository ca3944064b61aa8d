/**
 * One-time agent tokens (reference ironic-conductor.md §3, ipa-protocol.md §3).
 * The conductor keeps only a SHA-256 hash, so a leaked node record cannot be
 * replayed against an agent; the plaintext leaves this module exactly once.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 32 random bytes give 43 base64url characters, as Python's `secrets.token_urlsafe()` does. */
const TOKEN_BYTES = 32;

/** IPA only accepts a token from lookup when it has at least 32 characters (ipa-protocol.md §3). */
export const MIN_TOKEN_LENGTH = 32;

export interface GeneratedToken {
  /** The plaintext: hand it to the agent (lookup reply or virtual media) and to the caller that drives the agent. */
  token: string;
  /** Hex SHA-256 of the token: the only form that is stored. */
  hash: string;
}

/** Creates a fresh URL-safe token and its hash. */
export function generateAgentToken(): GeneratedToken {
  const token = randomBytes(TOKEN_BYTES).toString('base64url');
  return { token, hash: hashAgentToken(token) };
}

/** Hex SHA-256 of a token. */
export function hashAgentToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Checks a presented token against a stored hash in constant time: both sides
 * are 32-byte digests, so neither the length nor the content of the presented
 * value changes the time taken. No stored hash means no token is valid, as in
 * Ironic's `is_agent_token_valid`.
 */
export function verifyAgentToken(presented: unknown, storedHash: string | undefined): boolean {
  if (typeof presented !== 'string' || presented.length === 0 || !storedHash) return false;
  const expected = Buffer.from(storedHash, 'hex');
  const actual = createHash('sha256').update(presented, 'utf8').digest();
  if (expected.length !== actual.length) return false;
  return timingSafeEqual(expected, actual);
}
