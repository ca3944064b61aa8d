/**
 * One JSON request to an agent over node:http or node:https. TLS verification
 * is always on for https: either against the pinned CA (the agent's
 * self-signed certificate from `agent_verify_ca`) or the system store.
 */
import http from 'node:http';
import https from 'node:https';
import { IngotError, redactUrl } from '@ingot/protocol';

export interface AgentHttpRequest {
  method: 'GET' | 'POST';
  /** Full URL, query included; never logged or put in an error as is. */
  url: URL;
  body?: unknown;
  agent: http.Agent;
  timeoutMs: number;
  signal?: AbortSignal;
  maxResponseBytes: number;
}

export interface AgentHttpResponse {
  status: number;
  body: unknown;
}

/**
 * Raised when no HTTP response arrived: refused or reset connection, timeout,
 * TLS failure. Ironic retries exactly these (AgentConnectionFailed). The
 * message names the URL (without its query, which holds the token); the why
 * is the cause, Node's error, as pino and describeFailure append it: copying
 * it into the message too made every log line and failure say it twice.
 */
export function connectionFailed(url: URL, cause: unknown): IngotError {
  return new IngotError('INGOT_AGENT_UNREACHABLE', { details: `${url.origin}${url.pathname}`, cause: withoutQuery(cause, url) });
}

/** Node's error as is, unless its text holds the request's query (the token): then a copy without it, code and address kept. */
function withoutQuery(cause: unknown, url: URL): Error {
  const error = cause instanceof Error ? cause : new Error(String(cause));
  if (!url.search || !`${error.message}${error.stack ?? ''}`.includes(url.search)) return error;
  const { code, errno, syscall, address, port } = error as NodeJS.ErrnoException & { address?: string; port?: number };
  return Object.assign(new Error(error.message.replaceAll(url.search, '')), { code, errno, syscall, address, port });
}

/** Creates the keep-alive connection pool for one agent; `ca` pins the agent's certificate. */
export function createAgentPool(url: URL, ca: string | undefined): http.Agent {
  if (url.protocol === 'https:') return new https.Agent({ keepAlive: true, ca, rejectUnauthorized: true, minVersion: 'TLSv1.2' });
  return new http.Agent({ keepAlive: true });
}

export function sendAgentRequest(request: AgentHttpRequest): Promise<AgentHttpResponse> {
  const { url, method, agent, timeoutMs, maxResponseBytes } = request;
  const payload = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(request.signal?.aborted ? request.signal.reason : connectionFailed(url, new Error(`timed out after ${timeoutMs} ms`)));
      return;
    }
    const req = transport.request(url, {
      method,
      agent,
      signal,
      headers: {
        // Ironic sends Content-Type on every request, GETs included (ironic-conductor.md §1).
        'Content-Type': 'application/json',
        Accept: 'application/json',
        ...(payload ? { 'Content-Length': String(payload.length) } : {}),
      },
    });
    const fail = (error: unknown) => {
      if (request.signal?.aborted) reject(request.signal.reason);
      else if (timeout.aborted) reject(connectionFailed(url, new Error(`timed out after ${timeoutMs} ms`)));
      else reject(connectionFailed(url, error));
    };
    req.on('error', fail);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxResponseBytes) {
          res.destroy();
          reject(new IngotError('INGOT_AGENT_API_ERROR', { details: `${redactUrl(url)}: response larger than ${maxResponseBytes} bytes` }));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', fail);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown });
        } catch (cause) {
          reject(new IngotError('INGOT_AGENT_API_ERROR', {
            details: `${redactUrl(url)}: Unable to decode response as JSON (HTTP ${res.statusCode})`, cause, status: res.statusCode,
          }));
        }
      });
    });
    req.end(payload);
  });
}
