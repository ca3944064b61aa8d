import { createHash, timingSafeEqual } from 'node:crypto';

/** Compares a presented token with the held one in constant time (IPA uses a plain ==; 3). */
export function tokensMatch(presented: string | undefined, held: string | undefined): boolean {
  if (!presented || !held) return false;
  // Hashing first gives equal lengths, so timingSafeEqual never leaks the length either.
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(held).digest();
  return timingSafeEqual(a, b);
}

/** What the API needs to know about the agent's token. */
export interface TokenHolder {
  /** The token the agent holds, if any. */
  current(): string | undefined;
}
