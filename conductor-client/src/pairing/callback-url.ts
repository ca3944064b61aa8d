/**
 * Validation of the heartbeat's `callback_url`: the conductor will later send
 * the agent token to this URL, so anything but a bare `scheme://host:port` is
 * refused. IPA sends exactly that shape (ipa-protocol.md §2.4).
 */
import { IngotError } from '@ingot/protocol';

const MAX_LENGTH = 2048;

function refuse(details: string): IngotError {
  return new IngotError('INGOT_CALLBACK_URL_INVALID', { details });
}

/**
 * Returns the URL in canonical form (`https://192.0.2.10:9999`, IPv6 bracketed,
 * no trailing slash) or throws INGOT_CALLBACK_URL_INVALID saying what is wrong.
 */
export function parseCallbackUrl(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length === 0) throw refuse('"callback_url" is required and must be a string');
  if (raw.length > MAX_LENGTH) throw refuse(`"callback_url" is longer than ${MAX_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse('"callback_url" is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refuse('"callback_url" must use http or https');
  if (!url.hostname) throw refuse('"callback_url" has no host');
  // Omitting the port would send the token to 80/443, not to the agent (9999 by default).
  if (!url.port && !/:\d+$/.test(url.host)) throw refuse('"callback_url" must name a port');
  if (url.username || url.password) throw refuse('"callback_url" must not carry credentials');
  if (url.pathname !== '/' && url.pathname !== '') throw refuse('"callback_url" must not have a path');
  if (url.search || raw.includes('?')) throw refuse('"callback_url" must not have a query');
  if (url.hash || raw.includes('#')) throw refuse('"callback_url" must not have a fragment');
  return `${url.protocol}//${url.host}`;
}
