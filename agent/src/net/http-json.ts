import http from 'node:http';
import https from 'node:https';
import { redactUrl } from '@ingot/protocol';

export interface JsonResponse {
  status: number;
  body: unknown;
  text: string;
}

export interface JsonRequest {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  timeoutMs: number;
  /** PEM bundle to verify an https server against; the system store when absent. */
  ca?: string;
  insecure?: boolean;
  minTlsVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** A failure to reach the server at all (connection, TLS, timeout), as opposed to an HTTP error status. */
export class ConnectionError extends Error {
  /** The URL, as redactUrl shows it. */
  readonly url: string;
  /** Why, in Node's words with its code: `connect ECONNREFUSED 127.0.0.1:9`, `self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)`. */
  readonly reason: string;

  constructor(url: string, cause: unknown) {
    const reason = reasonOf(cause);
    super(`cannot reach ${redactUrl(url)}: ${reason}`, { cause });
    this.name = 'ConnectionError';
    this.url = redactUrl(url);
    this.reason = reason;
  }
}

function reasonOf(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const code = (cause as NodeJS.ErrnoException).code;
  return code && !cause.message.includes(code) ? `${cause.message} (${code})` : cause.message;
}

/** One JSON request over http or https, with a hard timeout; a body that is not JSON is kept as text. */
export function requestJson(request: JsonRequest): Promise<JsonResponse> {
  const url = new URL(request.url);
  const payload = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
  const headers: Record<string, string> = { Accept: 'application/json', ...request.headers };
  if (payload) {
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = String(payload.length);
  }
  const transport = url.protocol === 'https:' ? https : http;
  const tlsOptions = url.protocol === 'https:'
    ? { ca: request.ca, rejectUnauthorized: !request.insecure, minVersion: request.minTlsVersion ?? 'TLSv1.2' }
    : {};
  return new Promise((resolve, reject) => {
    const req = transport.request(url, { method: request.method, headers, timeout: request.timeoutMs, ...tlsOptions }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (error) => reject(new ConnectionError(request.url, error)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : null;
        } catch {
          // not JSON: the caller decides whether that is an error
        }
        resolve({ status: res.statusCode ?? 0, body, text });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${request.timeoutMs} ms`)));
    req.on('error', (error) => reject(new ConnectionError(request.url, error)));
    req.end(payload);
  });
}
