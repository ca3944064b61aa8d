import type http from 'node:http';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { IngotError, renderFault, type ErrorCode } from '@ingot/protocol';

/**
 * What the API's HTTP server grants one client. All about receiving the
 * request, never about the answer: Ironic's `?wait=true` may wait up to
 * ipa-command-wait-limit (50 s) for its answer on a quiet connection.
 */
export interface ServerLimits {
  /** From connecting (or from the first byte of a next request) to the end of the headers. */
  headersTimeoutMs: number;
  /** From the start of a request to its last body byte. At least `headersTimeoutMs` (Node demands it). */
  requestTimeoutMs: number;
  /** A kept-alive connection with no request in flight is closed after this. */
  keepAliveTimeoutMs: number;
  /** Open connections at most; more are closed at once, before they cost a file descriptor for long. */
  maxConnections: number;
  /** How often Node looks for requests past their timeouts (its default, 30 s, would let a 10 s timeout run 40 s). */
  checkIntervalMs: number;
}

export function serverLimitsFrom(config: { apiHeadersTimeout: number; apiRequestTimeout: number; apiMaxConnections: number }): ServerLimits {
  return {
    headersTimeoutMs: config.apiHeadersTimeout * 1000,
    requestTimeoutMs: config.apiRequestTimeout * 1000,
    // Node's default; Ironic opens a connection per call anyway.
    keepAliveTimeoutMs: 5_000,
    maxConnections: config.apiMaxConnections,
    checkIntervalMs: 1_000,
  };
}

/** Node's own limit (16 KiB) made explicit: larger headers get 431. */
export const MAX_HEADER_BYTES = 16 * 1024;

/** The options http(s).createServer takes for these limits. */
export function serverOptions(limits: ServerLimits): http.ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: limits.checkIntervalMs,
    maxHeaderSize: MAX_HEADER_BYTES,
  };
}

/**
 * Applies what cannot be given at creation, and answers requests Node's
 * parser refuses before any route sees them (a malformed request line or
 * header, headers too large, a request not received in time) in IPA's
 * fault shape instead of Node's bare 400, then closes the connection.
 * A server error (EMFILE when file descriptors run out) is logged, never
 * thrown: without a listener it would end the agent.
 */
export function applyServerLimits(server: http.Server, limits: ServerLimits, log: Logger): void {
  server.maxConnections = limits.maxConnections;
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => answerClientError(error, socket));
  server.on('error', (error) => log.warn({ err: error }, 'the API server could not accept a connection; it keeps serving the others'));
  let dropped = 0;
  server.on('drop', () => {
    if (dropped++ === 0) {
      setTimeout(() => {
        log.warn({ dropped, maxConnections: limits.maxConnections }, 'connections refused: the API already holds its most connections (ingot-api-max-connections)');
        dropped = 0;
      }, 10_000).unref();
    }
  });
}

/** Once an answer is written, a peer that does not read it holds the socket no longer than this. */
const CLOSE_GRACE_MS = 1_000;

function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  // A response already under way, a peer that is gone, or a TLS connection whose
  // handshake never finished (an https server hands its handshake timeout here too,
  // and anything written before the handshake would wait for it forever) gets nothing more.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  const tlsUnfinished = socket instanceof TLSSocket && !(socket as TLSSocket & { _secureEstablished?: boolean })._secureEstablished;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent || tlsUnfinished || /^ERR_(TLS|SSL)_/.test(String(error.code))) {
    socket.destroy();
    return;
  }
  const fault = clientErrorFault(error);
  const body = JSON.stringify(renderFault(fault));
  const reason = { 400: 'Bad Request', 408: 'Request Timeout', 413: 'Payload Too Large', 431: 'Request Header Fields Too Large' }[fault.status] ?? 'Bad Request';
  socket.end(`HTTP/1.1 ${fault.status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`, () => socket.destroy());
  setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
}

/** Node's parser error codes (llhttp's HPE_*) to the fault a client reads. */
export function clientErrorFault(error: NodeJS.ErrnoException): IngotError {
  const code = String(error.code ?? '');
  const [errorCode, details]: [ErrorCode, string] =
    code === 'ERR_HTTP_REQUEST_TIMEOUT' ? ['INGOT_REQUEST_TIMEOUT', 'the request was not received whole in time; send the headers and body without pausing']
      : code === 'HPE_HEADER_OVERFLOW' ? ['INGOT_HEADERS_TOO_LARGE', `the request headers are larger than ${MAX_HEADER_BYTES} bytes; send fewer or shorter headers`]
        : code === 'HPE_INVALID_URL' ? ['INGOT_URL_INVALID', 'the request target is not a valid URL; send an origin-form path such as /v1/commands/']
          : ['INGOT_BAD_REQUEST', `the request is not valid HTTP/1.1 (${code || 'parse error'}); send a well-formed request`];
  return new IngotError(errorCode, { details });
}
