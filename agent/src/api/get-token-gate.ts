import { IngotError } from '@ingot/protocol';
import { tokensMatch, type TokenHolder } from './token-check.ts';

/**
 * When a GET of the command routes must carry the token (ipa-protocol.md
 * 1.3). IPA before 12.0 demanded it only once some GET had carried it, and
 * Ironic 21.4 polls `GET /v1/commands/` without a token, so that late-binding
 * gate is what keeps its polling working. The gate closes only on a GET whose
 * token is VALID: a wrong, empty or malformed token is refused (401) and
 * changes nothing, so no one without the token can switch Ironic's polling
 * off. It is bound to the token that closed it: when the agent holds another
 * token (it started over as freshly booted, or the conductor issued a new
 * one), tokenless GETs pass again, as they would on a freshly started IPA.
 * `requireAlways` (ipa-require-token-on-get) is IPA 12.0's rule: always.
 */
export interface GetTokenGate {
  /** Throws INGOT_TOKEN_INVALID when this GET may not pass; `presented` is the query's `agent_token` if it is one string. */
  check(presented: unknown): void;
  /** Whether tokenless GETs are refused now. */
  readonly closed: boolean;
}

export function createGetTokenGate(options: { tokens: TokenHolder; requireAlways: boolean }): GetTokenGate {
  const { tokens } = options;
  let closedBy: string | undefined;
  const isClosed = () => options.requireAlways || (closedBy !== undefined && closedBy === tokens.current());

  return {
    get closed() { return isClosed(); },
    check(presented) {
      // A repeated or bracketed agent_token is no token at all, but it was presented: refused like a wrong one.
      const carried = presented !== undefined;
      const token = typeof presented === 'string' ? presented : undefined;
      const held = tokens.current();
      if (token !== undefined && tokensMatch(token, held)) {
        closedBy = held;
        return;
      }
      if (carried || isClosed()) throw new IngotError('INGOT_TOKEN_INVALID', { details: '' });
    },
  };
}
