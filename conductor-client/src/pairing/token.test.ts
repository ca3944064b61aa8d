import { describe, expect, it } from 'vitest';
import { MIN_TOKEN_LENGTH, generateAgentToken, hashAgentToken, verifyAgentToken } from './token.ts';

describe('agent tokens', () => {
  it('issues a 43-character URL-safe token that IPA accepts, with its SHA-256 hash', () => {
    const { token, hash } = generateAgentToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(token.length).toBeGreaterThanOrEqual(MIN_TOKEN_LENGTH);
    expect(hash).toBe(hashAgentToken(token));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toContain(token);
  });

  it('issues a different token every time', () => {
    const tokens = new Set(Array.from({ length: 50 }, () => generateAgentToken().token));
    expect(tokens.size).toBe(50);
  });

  it('accepts the issued token and refuses any other value, including none', () => {
    const { token, hash } = generateAgentToken();
    expect(verifyAgentToken(token, hash)).toBe(true);
    expect(verifyAgentToken(`${token}x`, hash)).toBe(false);
    expect(verifyAgentToken(token.slice(1), hash)).toBe(false);
    expect(verifyAgentToken('', hash)).toBe(false);
    expect(verifyAgentToken(undefined, hash)).toBe(false);
    expect(verifyAgentToken(42, hash)).toBe(false);
  });

  it('refuses every token when no hash is stored, as Ironic treats a missing token', () => {
    expect(verifyAgentToken(generateAgentToken().token, undefined)).toBe(false);
  });

  it('refuses a stored hash of the wrong length instead of throwing', () => {
    expect(verifyAgentToken('abc', 'abcd')).toBe(false);
  });
});
