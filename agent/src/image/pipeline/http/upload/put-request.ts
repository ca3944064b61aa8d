import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { IngotError, redactUrl } from '@ingot/protocol';

/**
 * The HTTP side of uploads: node:http/https with one keep-alive agent per
 * upload. Not the download's bare-socket client (http-connection.ts): that one
 * exists to receive into the image's own buffers without copies; a PUT sends
 * buffers we already hold, which node:http does with no extra copy, and its
 * request writer gives chunked encoding and socket backpressure for free.
 * undici is not a dependency of the agent; node:http is enough here.
 *
 * No proxy support: object stores are reached directly (the conductor hands
 * out URLs it can reach); add it here, beside the download's, if needed.
 */

export interface UploadAgent {
  agent: http.Agent;
  destroy(): void;
}

/** A keep-alive agent for `url`'s scheme, trusting `caPem` besides the system's roots for https. */
export function createUploadAgent(url: URL, options: { caPem?: string; maxSockets: number }): UploadAgent {
  const agent = url.protocol === 'https:'
    ? new https.Agent({ keepAlive: true, maxSockets: options.maxSockets, ca: options.caPem ? [...tls.rootCertificates, options.caPem] : undefined })
    : new http.Agent({ keepAlive: true, maxSockets: options.maxSockets });
  return { agent, destroy: () => agent.destroy() };
}

export interface PutAnswer {
  status: number;
  /** The ETag header, surrounding quotes removed; null when absent. */
  etag: string | null;
  /** The first KiB of the body, as text (the store's reason for a refusal). */
  body: string;
}

const BODY_KEEP = 1024;
/**
 * A request whose socket neither sent nor received a byte for this long is
 * destroyed (a dropped connection, so retried where retries apply): a store
 * that accepted the connection and went silent would otherwise hold the
 * capture forever. Swift answers a segment once its object server fsynced it,
 * well within this on any disk that works.
 */
export const UPLOAD_STALL_MS = 120_000;

/** Builds the request; the caller writes the body. Rejections carry `status: null` semantics: no answer. */
export function startPut(url: URL, options: { agent: http.Agent; headers: Record<string, string | number>; signal: AbortSignal; stallMs?: number }): { request: http.ClientRequest; answer: Promise<PutAnswer> } {
  const send = url.protocol === 'https:' ? https.request : http.request;
  const request = send(url, { method: 'PUT', agent: options.agent, headers: options.headers, signal: options.signal });
  const stallMs = options.stallMs ?? UPLOAD_STALL_MS;
  request.setTimeout(stallMs, () => request.destroy(new Error(`no byte sent or received for ${stallMs / 1000} s`)));
  const answer = new Promise<PutAnswer>((resolve, reject) => {
    request.once('error', reject);
    request.once('response', (response) => {
      const kept: Buffer[] = [];
      let keptBytes = 0;
      response.on('data', (data: Buffer) => {
        if (keptBytes < BODY_KEEP) {
          kept.push(data.subarray(0, BODY_KEEP - keptBytes));
          keptBytes += Math.min(data.length, BODY_KEEP - keptBytes);
        }
      });
      response.once('error', reject);
      response.once('end', () => {
        const etag = response.headers.etag;
        resolve({
          status: response.statusCode ?? 0,
          etag: typeof etag === 'string' ? etag.replace(/^(?:W\/)?"(.*)"$/, '$1') : null,
          body: Buffer.concat(kept).toString('utf8'),
        });
      });
    });
  });
  // The request's own 'error' already rejects `answer`; this keeps a rejection nobody awaits yet from being unhandled.
  answer.catch(() => {});
  return { request, answer };
}

/** PUT `body` whole with its Content-Length. */
export function putBuffer(url: URL, body: Uint8Array, options: { agent: http.Agent; headers: Record<string, string | number>; signal: AbortSignal; stallMs?: number }): Promise<PutAnswer> {
  const { request, answer } = startPut(url, { ...options, headers: { ...options.headers, 'Content-Length': body.length } });
  request.end(body);
  return answer;
}

/**
 * The store's reason for a refusal, safe for a log line: S3's XML errors give
 * their `<Code>` and `<Message>` only (the rest may echo the signature:
 * `<SignatureProvided>`, `<StringToSign>`), other bodies lose their tags;
 * every query value of `url` is blanked wherever it still appears, and the
 * text is cut to 200 characters.
 */
export function describeStoreReason(body: string, url: URL): string {
  const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1];
  let text = code !== undefined ? [code, message].filter(Boolean).join(': ') : body.replace(/<[^>]*>/g, ' ');
  text = text.replace(/\s+/g, ' ').trim();
  for (const value of url.searchParams.values()) {
    if (value.length >= 4) text = text.split(value).join('***');
  }
  for (const raw of url.search.slice(1).split('&')) {
    const value = raw.slice(raw.indexOf('=') + 1);
    if (value.length >= 4) text = text.split(value).join('***');
  }
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/** `url` as a URL when it is http or https, else a 400 naming `what` (the URL redacted). */
export function parseUploadUrl(url: string, what: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new IngotError('INGOT_SNAPSHOT_UPLOAD', { status: 400, details: `${what} (${redactUrl(url)}) is not a URL` });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new IngotError('INGOT_SNAPSHOT_UPLOAD', { status: 400, details: `${what} (${redactUrl(url)}) is not http or https` });
  }
  return parsed;
}

/** The final error for a store whose TLS certificate was refused, saying what to give. */
export function certificateRefused(where: string, error: NodeJS.ErrnoException): IngotError {
  return new IngotError('INGOT_SNAPSHOT_UPLOAD', {
    status: 400,
    details: `${where}: the store's TLS certificate was not accepted (${error.code}: ${error.message}); give the CA that signed it, or use a store whose certificate the agent trusts`,
    cause: error,
  });
}
