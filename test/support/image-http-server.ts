import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';

/** What the server does for one path; `first*` faults apply to the first request of that path only. */
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
}

export interface RecordedImageRequest {
  path: string;
  range: string | undefined;
  /** The request line's target as received (absolute-form through an HTTP proxy). */
  target: string;
  via: string | undefined;
}

/**
 * A node:http(s) image server on 127.0.0.1 that can send chunked bodies, cut
 * connections and ignore Range, recording what it was asked.
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

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
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
    const body = route.body.subarray(start);
    const cut = route.cutAlwaysAfter ?? (nth === (route.cutRequest ?? 0) ? route.cutFirstAfter : undefined);
    const sent = cut === undefined ? body : body.subarray(0, cut);
    if (!route.chunked) {
      if (cut === undefined) res.end(sent);
      else res.write(sent, () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    // node:http frames each write() as one chunk when no Content-Length was set.
    const size = route.chunkSize ?? 100_000;
    const writeFrom = (at: number): void => {
      if (res.destroyed) return;
      if (at >= sent.length) {
        if (cut === undefined) res.end();
        else setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      const more = res.write(sent.subarray(at, at + size));
      if (more) setImmediate(() => writeFrom(at + size));
      else res.once('drain', () => writeFrom(at + size));
    };
    writeFrom(0);
  }
}
