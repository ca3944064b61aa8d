import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

/**
 * Serves files on 127.0.0.1, Range requests included (what the image
 * pipeline resumes with); over HTTPS when given a key and certificate.
 */
export async function serveFiles(files: Record<string, Buffer>, tls?: { key: string; cert: string }): Promise<{ base: string; close(): Promise<void> }> {
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const body = files[(req.url ?? '').split('?')[0]!];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    res.writeHead(range ? 206 : 200, {
      'Content-Length': String(body.length - start),
      'Accept-Ranges': 'bytes',
      ...(range ? { 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body.subarray(start));
  };
  const server = (tls ? https.createServer(tls, handler) : http.createServer(handler)).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    base: `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
