/**
 * A small static HTTP server for the demo's images on 127.0.0.1: files
 * streamed from disk, HEAD, and single `Range: bytes=a-b` requests (the
 * agent resumes interrupted downloads with them). An optional throttle makes
 * a download last long enough to watch, or to sample its progress in tests.
 */
import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface ImageServerOptions {
  /** URL path (e.g. '/disk.img.zst') → file on disk. */
  files: Record<string, string>;
  /** Serve at most this many bytes per second per response. Default unlimited. */
  throttleBytesPerSecond?: number;
}

export interface ImageServer {
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  readonly url: string;
  /** Requests answered, as `METHOD path status`. */
  readonly log: string[];
  /** Body bytes sent so far. */
  readonly bytesServed: number;
  close(): Promise<void>;
}

/** Parses one `bytes=a-b`, `bytes=a-` or `bytes=-n` range against a size; undefined when unsatisfiable. */
export function parseRange(header: string, size: number): { start: number; end: number } | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    return suffix === 0 ? undefined : { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  return start > end || start >= size ? undefined : { start, end };
}

function throttle(bytesPerSecond: number): Transform {
  const started = Date.now();
  let sent = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sent += chunk.length;
      const due = started + (sent / bytesPerSecond) * 1000;
      setTimeout(() => done(null, chunk), Math.max(0, due - Date.now()));
    },
  });
}

export async function createImageServer(options: ImageServerOptions): Promise<ImageServer> {
  const log: string[] = [];
  let bytesServed = 0;
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://images').pathname;
    const file = options.files[path];
    const answer = (status: number, headers: Record<string, string> = {}) => {
      log.push(`${req.method} ${path} ${status}`);
      return res.writeHead(status, headers);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return void answer(405, { Allow: 'GET, HEAD' }).end();
    if (!file) return void answer(404).end();
    const size = statSync(file).size;
    const rangeHeader = req.headers.range;
    const range = rangeHeader ? parseRange(rangeHeader, size) : { start: 0, end: size - 1 };
    if (!range) return void answer(416, { 'Content-Range': `bytes */${size}` }).end();
    answer(rangeHeader ? 206 : 200, {
      'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes', 'Content-Length': String(range.end - range.start + 1),
      ...(rangeHeader ? { 'Content-Range': `bytes ${range.start}-${range.end}/${size}` } : {}),
    });
    if (req.method === 'HEAD' || size === 0) return void res.end();
    const source = createReadStream(file, { start: range.start, end: range.end, highWaterMark: 1024 * 1024 });
    source.on('data', (chunk) => { bytesServed += chunk.length; });
    const stages = options.throttleBytesPerSecond ? [source, throttle(options.throttleBytesPerSecond), res] as const : [source, res] as const;
    // A client that goes away (the agent aborting, a retry) is not an error here.
    (pipeline as (...streams: unknown[]) => Promise<void>)(...stages).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    get bytesServed() { return bytesServed; },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
