/**
 * The object stores' HTTP calls, made by the conductor with its own
 * credentials or signed URLs: every failure is INGOT_SNAPSHOT_UPLOAD naming
 * the operation and the URL without its query values (redactUrl), with what
 * the store answered.
 */
import { IngotError, redactUrl } from '@ingot/protocol';

export interface StoreResponse {
  status: number;
  headers: Headers;
  text: string;
}

/** A store's answer in one line: S3's `<Code>`/`<Message>` or Swift's body, shortened. */
function storeSaid(text: string): string {
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  const said = code ? `${code}${message ? `: ${message}` : ''}` : text.replace(/<[^>]+>/g, ' ');
  return said.replace(/\s+/g, ' ').trim().slice(0, 300);
}

export function storeError(what: string, url: string, details: string, cause?: unknown): IngotError {
  return new IngotError('INGOT_SNAPSHOT_UPLOAD', { details: `${what} (${redactUrl(url)}): ${details}`, ...(cause === undefined ? {} : { cause }) });
}

/**
 * One request; resolves with any status in `accept`, throws otherwise.
 * `what` says which operation, for the error ("PUT the static large object's manifest").
 */
export async function storeRequest(
  what: string, url: string, init: { method: string; headers?: Record<string, string>; body?: string | Uint8Array; signal?: AbortSignal },
  accept: readonly number[],
): Promise<StoreResponse> {
  let response: Response;
  try {
    response = await fetch(url, { method: init.method, headers: init.headers, body: init.body, signal: init.signal ?? AbortSignal.timeout(120_000) });
  } catch (error) {
    // undici's message names the host only; its cause (ECONNREFUSED …) is kept.
    throw storeError(what, url, `no answer: ${(error as Error).message}; is the object store up and reachable from the conductor?`, error);
  }
  const text = await response.text();
  if (!accept.includes(response.status)) {
    const hint = response.status === 401 || response.status === 403 ? '; check the credentials (and that a signed URL has not expired)' : '';
    throw storeError(what, url, `HTTP ${response.status} ${storeSaid(text)}${hint}`);
  }
  return { status: response.status, headers: response.headers, text };
}
