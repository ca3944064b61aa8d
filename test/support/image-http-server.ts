import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';

/** What the server does for one path; `*First*` faults apply to the first request of that path only. */
export interface ImageRoute {
  body: Buffer;
  /** Answer every request with this status and a short text body. */
  status?: number;
  /** Honour `Range: bytes=N-` (default true). */
  ranges?: boolean;
  /** Send the body with Transfer-Encoding: chunked (no Content-Length), in chunks of `chunkSize`. */
  chunked?: boolean;
  chunkSize?: number;
  /** Close the connection after this many body bytes of the first response (a chunked one without its last chunk). */
  cutFirstAfter?: number;
  /** Which request of this path `cutFirstAfter` applies to, counting from 0 (default 0). */
  cutRequest?: number;
  /** Close every response after this many body bytes. */
  cutAlwaysAfter?: number;
  /** End the first response this many bytes short of the Content-Length it announced. */
  shortFirstBy?: number;
  /** End every response this many bytes short of the Content-Length it announced. */
  shortAlwaysBy?: number;
  /** Stop sending every response at this absolute offset of the body, the connection left open. */
  stallAt?: number;
  /** Send the body in pieces of this many bytes, one every 20 ms tick. */
  slowBytesPerTick?: number;
}

export interface RecordedImageRequest {
  path: string;
  range: string | undefined;
  /** The request line's target as received (absolute-form through an HTTP proxy). */
  target: string;
  via: string | undefined;
}

/** How a response ends once its bytes are written: as HTTP says, by closing the connection, or never. */
type Ending = 'end' | 'close' | 'hang';

const TICK_MS = 20;

/**
 * A node:http(s) image server on 127.0.0.1 that misbehaves on request:
 * chunked bodies, cut connections, short bodies, stalls, slow bodies, no
 * Range; it records what it was asked.
 */
export class ImageHttpServer {
  readonly routes = new Map<string, ImageRoute>();
  readonly requests: RecordedImageRequest[] = [];
  private server: Server | undefined;
  port = 0;

  constructor(private readonly tls?: { key: string; cert: string }) {}

  async start(): Promise<void> {
    const handler = (req: IncomingMessage, res: ServerResponse) => this.handle(req, res);
    this.server = this.tls ? createHttpsServer(this.tls, handler) : createHttpServer(handler);
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  url(path: string, host = '127.0.0.1'): string {
    return `${this.tls ? 'https' : 'http'}://${host}:${this.port}${path}`;
  }

  /** Also safe when start() never ran (a suite whose prerequisite was missing). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  reset(): void {
    this.routes.clear();
    this.requests.length = 0;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const target = req.url ?? '';
    const path = new URL(target, 'http://placeholder').pathname;
    const route = this.routes.get(path);
    const nth = this.requests.filter((r) => r.path === path).length;
    this.requests.push({ path, range: req.headers.range, target, via: req.headers.via });
    if (!route) {
      res.writeHead(404).end('not here');
      return;
    }
    if (route.status) {
      res.writeHead(route.status).end('failing on purpose');
      return;
    }
    const match = route.ranges !== false ? /^bytes=(\d+)-$/.exec(req.headers.range ?? '') : null;
    const start = match ? Number(match[1]) : 0;
    const total = route.body.length;
    if (start >= total && match) {
      res.writeHead(416, { 'Content-Range': `bytes */${total}` }).end();
      return;
    }
    const headers: Record<string, number | string> = { 'Accept-Ranges': route.ranges === false ? 'none' : 'bytes' };
    if (!route.chunked) headers['Content-Length'] = total - start;
    if (match) headers['Content-Range'] = `bytes ${start}-${total - 1}/${total}`;
    res.writeHead(match ? 206 : 200, headers);
    const { bytes, ending } = misbehave(route, route.body.subarray(start), start, nth);
    send(res, bytes, ending, route);
  }
}

/** The bytes a response really sends, and how it ends, after the route's faults. */
function misbehave(route: ImageRoute, body: Buffer, start: number, nth: number): { bytes: Buffer; ending: Ending } {
  const short = route.shortAlwaysBy ?? (nth === 0 ? route.shortFirstBy : undefined);
  const bytes = short === undefined ? body : body.subarray(0, body.length - short);
  const cut = route.cutAlwaysAfter ?? (nth === (route.cutRequest ?? 0) ? route.cutFirstAfter : undefined);
  if (cut !== undefined) return { bytes: bytes.subarray(0, cut), ending: 'close' };
  if (route.stallAt !== undefined) return { bytes: bytes.subarray(0, Math.max(0, route.stallAt - start)), ending: 'hang' };
  return { bytes, ending: 'end' };
}

/**
 * Writes `bytes` in pieces (one for a plain body; node:http frames each
 * write() as one chunk when no Content-Length was set), honouring
 * backpressure, then ends the response as `ending` says.
 */
function send(res: ServerResponse, bytes: Buffer, ending: Ending, route: ImageRoute): void {
  const size = route.slowBytesPerTick ?? (route.chunked ? route.chunkSize ?? 100_000 : bytes.length);
  const pace = (next: () => void): void => {
    if (route.slowBytesPerTick === undefined) setImmediate(next);
    else setTimeout(next, TICK_MS);
  };
  const writeFrom = (at: number): void => {
    if (res.destroyed) return;
    const piece = bytes.subarray(at, at + size);
    if (at + size >= bytes.length) {
      finish(res, piece, ending);
      return;
    }
    if (res.write(piece)) pace(() => writeFrom(at + size));
    else res.once('drain', () => pace(() => writeFrom(at + size)));
  };
  if (route.slowBytesPerTick === undefined) writeFrom(0);
  else pace(() => writeFrom(0));
}

function finish(res: ServerResponse, last: Buffer, ending: Ending): void {
  if (ending === 'end') res.end(last);
  else if (ending === 'close') res.write(last, () => setTimeout(() => res.socket?.destroy(), TICK_MS));
  else res.write(last);
}
