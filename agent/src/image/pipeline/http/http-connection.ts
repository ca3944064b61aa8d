import net from 'node:net';
import tls from 'node:tls';
import { IngotError, redactUrl } from '@ingot/protocol';
import type { BodyConsumer } from './body-consumer.ts';
import { ChunkedBody } from './chunked-body.ts';
import { findHeadEnd, parseResponseHead, type ResponseHead } from './http-head.ts';
import { basicAuthFromUrl } from './image-url.ts';

/**
 * A bare HTTP/1.1 GET whose body is read with `onread`: the kernel copies
 * socket data into a buffer the pipeline chooses (for raw images, the image
 * slot itself), with no per-read allocation. Receiving 2 GiB that way costs
 * 0.7 CPU s against 2.9 s with http.get (perf-limits.md 6.2), which is why
 * this is not node:http. One request per connection (Connection: close).
 */
export interface RequestOptions {
  url: URL;
  rangeStart: number;
  caPem?: string;
  /** http://[user:pass@]host:port; https targets go through CONNECT, http ones as absolute-URI requests. */
  proxy?: string;
  stallTimeoutMs: number;
  signal: AbortSignal;
}

export interface OpenResponse {
  head: ResponseHead;
  /**
   * Streams the body into `consumer`: `length` bytes, or a chunked body up to
   * its terminating chunk. Rejects on a stall, an early close, bad chunk
   * framing or abort.
   */
  readBody(consumer: BodyConsumer, length: number | 'chunked'): Promise<void>;
  close(): void;
}

const HEAD_LIMIT = 64 * 1024;

export async function openResponse(options: RequestOptions): Promise<OpenResponse> {
  const { url, signal } = options;
  const where = redactUrl(url);
  const retryable = (details: string, cause?: unknown) => new IngotError('INGOT_IMAGE_DOWNLOAD', { details: `${where}: ${details}`, cause });
  const headBuffer = Buffer.allocUnsafe(HEAD_LIMIT);
  let headFill = 0;
  let headDone = false;
  const spare = Buffer.allocUnsafe(HEAD_LIMIT);
  let consumer: BodyConsumer | undefined;
  let onBytes: (buf: Uint8Array, n: number) => boolean = () => true;
  const onread = {
    // Once the head is in, the next read is already scheduled before the body has a consumer: it lands in a spare buffer.
    buffer: () => (consumer ? consumer.readBuffer() : headDone ? spare : headBuffer.subarray(headFill)),
    callback: (n: number, buf: Uint8Array) => onBytes(buf, n),
  };
  const socket = await connect(options, onread);
  let lastActivity = Date.now();
  let paused = false;
  let settle: ((error?: Error) => void) | undefined;
  const stallTimer = setInterval(() => {
    if (!paused && Date.now() - lastActivity > options.stallTimeoutMs) {
      const error = new IngotError('INGOT_IMAGE_STALLED', { details: `${where}: no data for ${options.stallTimeoutMs} ms` });
      settle ? settle(error) : socket.destroy(error);
    }
  }, Math.max(10, Math.min(1000, options.stallTimeoutMs / 4)));
  const onAbort = () => (settle ? settle(signal.reason as Error) : socket.destroy(signal.reason as Error));
  signal.addEventListener('abort', onAbort, { once: true });
  const close = () => {
    clearInterval(stallTimer);
    signal.removeEventListener('abort', onAbort);
    socket.destroy();
  };

  let head: ResponseHead;
  let leftover: Buffer;
  let onError: (error: Error) => void = () => {};
  let onClose: () => void = () => {};
  try {
    [head, leftover] = await new Promise<[ResponseHead, Buffer]>((resolve, reject) => {
      settle = (error) => reject(error);
      onError = (error) => reject(retryable(`connection failed: ${error.message}`, error));
      onClose = () => reject(retryable('the server closed the connection before answering'));
      socket.on('error', onError);
      socket.on('close', onClose);
      onBytes = (_buf, n) => {
        lastActivity = Date.now();
        headFill += n;
        const end = findHeadEnd(headBuffer, headFill);
        if (end < 0) {
          if (headFill >= HEAD_LIMIT) reject(retryable('response head larger than 64 KiB'));
          return headFill < HEAD_LIMIT;
        }
        try {
          resolve([parseResponseHead(headBuffer.toString('latin1', 0, end)), Buffer.from(headBuffer.subarray(end, headFill))]);
        } catch (error) {
          reject(retryable((error as Error).message, error));
        }
        paused = true;
        headDone = true;
        return false; // hold the body until the caller has decided what to do with it
      };
      // Through a proxy, an http request names the absolute URI (RFC 9112 3.2.2), without its userinfo.
      const target = options.proxy && url.protocol === 'http:' ? `${url.protocol}//${url.host}${url.pathname}${url.search}` : `${url.pathname}${url.search}`;
      const auth = basicAuthFromUrl(url);
      const proxyAuth = options.proxy && url.protocol === 'http:' ? basicAuthFromUrl(new URL(options.proxy)) : undefined;
      socket.write(
        `GET ${target} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: ingot-agent\r\nAccept-Encoding: identity\r\nConnection: close\r\n`
        + (options.rangeStart > 0 ? `Range: bytes=${options.rangeStart}-\r\n` : '')
        + (auth ? `Authorization: ${auth}\r\n` : '')
        + (proxyAuth ? `Proxy-Authorization: ${proxyAuth}\r\n` : '')
        + '\r\n',
      );
    });
  } catch (error) {
    close();
    throw error;
  } finally {
    socket.off('error', onError);
    socket.off('close', onClose);
    settle = undefined;
  }
  let lastError: Error | undefined;
  socket.on('error', (error) => { lastError = error; }); // reported through 'close' below

  return {
    head,
    close,
    readBody(sink, length) {
      const chunked = length === 'chunked' ? new ChunkedBody(sink) : undefined;
      const target: BodyConsumer = chunked ?? sink;
      return new Promise<void>((resolve, reject) => {
        let received = 0;
        let open = true;
        const finish = (error?: Error) => {
          if (!open) return;
          open = false;
          settle = undefined;
          close();
          error ? reject(error) : resolve();
        };
        settle = finish;
        const take = (view: Uint8Array): boolean => {
          lastActivity = Date.now();
          if (chunked) {
            let more: boolean;
            try {
              more = chunked.onRead(view);
            } catch (error) {
              finish(retryable(`bad chunked encoding after ${chunked.decoded} body bytes: ${(error as Error).message}`, error));
              return false;
            }
            if (chunked.done) {
              finish();
              return false;
            }
            paused = !more;
            return more;
          }
          const body = view.subarray(0, Math.min(view.byteLength, (length as number) - received));
          received += body.byteLength;
          const more = target.onRead(body);
          if (received >= (length as number)) {
            finish();
            return false;
          }
          paused = !more;
          return more;
        };
        socket.once('close', () => {
          if (!open) return;
          const cause = lastError ? ` (${lastError.message})` : '';
          finish(retryable(chunked
            ? `the connection closed before the last chunk of the chunked body, after ${chunked.decoded} body bytes${cause}`
            : `the connection closed after ${received} of ${length} body bytes${cause}`, lastError));
        });
        consumer = target;
        target.attach(() => {
          if (!open) return;
          paused = false;
          lastActivity = Date.now();
          socket.resume();
        });
        onBytes = (buf, n) => take(buf.subarray(0, n));
        if (length === 0) return finish();
        if (leftover.byteLength > 0 && !take(leftover)) return;
        if (open) {
          paused = false;
          lastActivity = Date.now();
          socket.resume();
        }
      });
    },
  };
}

type OnRead = { buffer: () => Uint8Array; callback: (n: number, buf: Uint8Array) => boolean };

async function connect(options: RequestOptions, onread: OnRead): Promise<net.Socket> {
  const { url } = options;
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const where = redactUrl(url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new IngotError('INGOT_INVALID_PARAMS', { details: `${where}: only http and https image URLs are supported` });
  }
  const proxy = options.proxy ? new URL(options.proxy) : undefined;
  const ready = (socket: net.Socket, event: string) => new Promise<net.Socket>((resolve, reject) => {
    socket.once(event, () => resolve(socket));
    socket.once('error', (error) => reject(connectError(where, error)));
  });
  const connectTimer = (socket: net.Socket) => socket.setTimeout(options.stallTimeoutMs, () => socket.destroy(new Error(`no connection within ${options.stallTimeoutMs} ms`)));
  const tlsOptions = { servername: net.isIP(host) ? undefined : host, ca: options.caPem, onread } as tls.ConnectionOptions;
  if (!proxy) {
    const socket = url.protocol === 'https:' ? tls.connect({ host, port, ...tlsOptions }) : net.connect({ host, port, onread } as net.NetConnectOpts);
    connectTimer(socket);
    await ready(socket, url.protocol === 'https:' ? 'secureConnect' : 'connect');
    socket.setTimeout(0);
    return socket;
  }
  const proxyPort = Number(proxy.port || 80);
  if (url.protocol === 'http:') {
    const socket = net.connect({ host: proxy.hostname, port: proxyPort, onread } as net.NetConnectOpts);
    connectTimer(socket);
    await ready(socket, 'connect');
    socket.setTimeout(0);
    return socket;
  }
  // https through the proxy: CONNECT, then TLS over the tunnel (RFC 9110 9.3.6).
  const tunnel = net.connect({ host: proxy.hostname, port: proxyPort });
  connectTimer(tunnel);
  await ready(tunnel, 'connect');
  const proxyAuth = basicAuthFromUrl(proxy);
  tunnel.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n${proxyAuth ? `Proxy-Authorization: ${proxyAuth}\r\n` : ''}\r\n`);
  const answer = await new Promise<string>((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.includes('\r\n\r\n')) {
        tunnel.off('data', onData);
        tunnel.pause();
        resolve(text);
      }
    };
    tunnel.on('data', onData);
    tunnel.on('error', reject);
    tunnel.on('close', () => reject(new Error('the proxy closed the connection')));
  }).catch((error: unknown) => {
    tunnel.destroy();
    throw new IngotError('INGOT_IMAGE_DOWNLOAD', { details: `${where}: proxy CONNECT failed: ${(error as Error).message}`, cause: error });
  });
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1]);
  if (status !== 200) {
    tunnel.destroy();
    throw new IngotError('INGOT_IMAGE_DOWNLOAD', { details: `${where}: the proxy refused CONNECT with HTTP ${status}` });
  }
  tunnel.setTimeout(0);
  // `host` is what the certificate is checked against; without it Node checks 'localhost'.
  const socket = tls.connect({ socket: tunnel, host, ...tlsOptions });
  bridgeOnread(socket, onread);
  await ready(socket, 'secureConnect');
  return socket;
}

/**
 * A TLS socket layered on an existing socket (the CONNECT tunnel) ignores
 * `onread` and emits 'data' instead: copy each chunk into the buffers onread
 * hands out, and hold what is left while the consumer has paused.
 */
function bridgeOnread(socket: tls.TLSSocket, onread: OnRead): void {
  let held: Buffer | undefined;
  const deliver = (chunk: Buffer): void => {
    let at = 0;
    while (at < chunk.length) {
      const target = onread.buffer();
      const count = Math.min(target.byteLength, chunk.length - at);
      target.set(chunk.subarray(at, at + count));
      at += count;
      if (!onread.callback(count, target)) {
        socket.pause();
        held = at < chunk.length ? chunk.subarray(at) : undefined;
        return;
      }
    }
  };
  socket.on('data', deliver);
  // 'resume' comes before the stream flows again, so held bytes keep their order.
  socket.on('resume', () => {
    const chunk = held;
    held = undefined;
    if (chunk) deliver(chunk);
  });
}

/**
 * A certificate the image server's CA does not vouch for will not verify on a
 * retry either: that failure is final (status 400, as fetch-served reads it)
 * and says what to give. Anything else may be a passing network fault.
 */
function connectError(where: string, error: NodeJS.ErrnoException): IngotError {
  const code = error.code ?? '';
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_CERT_ALTNAME/.test(code)) {
    return new IngotError('INGOT_IMAGE_DOWNLOAD', {
      details: `${where}: the image server's TLS certificate was not accepted (${code}: ${error.message}); give the CA that signed it (image download CA), or serve the image from a server whose certificate the agent trusts`,
      cause: error,
      status: 400,
    });
  }
  return new IngotError('INGOT_IMAGE_DOWNLOAD', { details: `${where}: cannot connect: ${error.message}`, cause: error });
}
