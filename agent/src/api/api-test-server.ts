/**
 * The agent's real API server for tests of the API itself (unit, fuzz):
 * createApi behind serveApi on 127.0.0.1 (plain HTTP, port 0), a real
 * command runner with a few cheap extensions, and the agent's own logger
 * writing into memory, so a test reads exactly the lines the agent would
 * write to its log file. Also a raw-socket client for requests no HTTP
 * client would send.
 */
import net from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createCommandRunner, type CommandRunner } from '../commands/command-runner.ts';
import { defineExtension } from '../commands/command.ts';
import { resolveConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import type { ServedTls } from '../serving/choose-tls.ts';
import type { ServerLimits } from '../serving/server-limits.ts';
import { serveApi } from '../serving/serve-api.ts';
import { createApi } from './create-api.ts';

export interface TestApiServer {
  port: number;
  base: string;
  runner: CommandRunner;
  /** Every line the agent's logger wrote, as written (JSON text). */
  lines(): string[];
  /** The lines written since the last call, then forgotten (a long fuzz run keeps no history). */
  takeLines(): string[];
  /** Lets the async `clean.hold` finish. */
  release(): void;
  setToken(token: string | undefined): void;
  close(): Promise<void>;
}

export interface TestApiOptions {
  token?: string;
  requireTokenOnGet?: boolean;
  bodyLimitBytes?: number;
  limits?: Partial<ServerLimits>;
  /** Serve HTTPS with this certificate (plain HTTP by default). */
  tls?: ServedTls;
  /** Whether the logger's last-line token scrub runs (off: the request log alone must keep the token out). */
  scrub?: boolean;
}

export async function startTestApi(options: TestApiOptions = {}): Promise<TestApiServer> {
  let token = options.token;
  const written: string[] = [];
  const destination = new Writable({ write(chunk, _encoding, callback) { written.push(...String(chunk).split('\n').filter(Boolean)); callback(); } });
  const log = createLogger({ level: 'debug', destination, ...(options.scrub === false ? {} : { secrets: () => [token] }) });
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const runner = createCommandRunner({
    log,
    extensions: [
      defineExtension('clean', [
        { name: 'get_clean_steps', mode: 'sync', run: async () => ({ clean_steps: {}, hardware_manager_version: {} }) },
        { name: 'hold', mode: 'async', run: async () => { await gate; return null; } },
      ]),
      defineExtension('test', [
        { name: 'echo', mode: 'sync', run: async (params) => params },
        { name: 'log_params', mode: 'sync', run: async (params, ctx) => { ctx.log.info({ params }, 'params received'); return null; } },
      ]),
    ],
  });
  const handler = createApi({
    runner, log, version: '0.1.0', startedAt: 1_700_000_000_000, tokens: { current: () => token },
    requireTokenOnGet: options.requireTokenOnGet, bodyLimitBytes: options.bodyLimitBytes, waitLimitMs: 2_000,
  });
  const config = resolveConfig({ flags: { listenHost: '127.0.0.1', listenPort: '0' } });
  const server = await serveApi({ config, handler, defaultListenHost: '127.0.0.1', advertiseHost: '127.0.0.1', tls: options.tls, log: pino({ level: 'silent' }), limits: options.limits });
  return {
    port: server.port,
    base: `${options.tls ? 'https' : 'http'}://127.0.0.1:${server.port}`,
    runner,
    lines: () => [...written],
    takeLines: () => written.splice(0),
    release,
    setToken: (next) => { token = next; },
    close: () => server.close(),
  };
}

export interface RawResponse {
  /** 0 when nothing came back. */
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Whether the server closed the connection before `waitMs` ran out. */
  closed: boolean;
  /** From the last byte written to the close (or to `waitMs`). */
  elapsedMs: number;
}

/**
 * Writes `chunks` on a fresh connection (the next after `gapMs`, a trickle
 * when set), and reads until the server closes it or `waitMs` passes. The
 * first response on the connection is parsed; the connection is always destroyed.
 * `untilAnswered`: stop as soon as a whole response is in (`head`: one without a body).
 * `halfClose`: end the sending side after the last part, as a client that has said all it will.
 */
export function rawRequest(port: number, chunks: string | Buffer | Array<string | Buffer>, options: { waitMs?: number; gapMs?: number; untilAnswered?: boolean; head?: boolean; halfClose?: boolean } = {}): Promise<RawResponse> {
  const parts = Array.isArray(chunks) ? chunks : [chunks];
  const waitMs = options.waitMs ?? 5_000;
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let sentAt = performance.now();
    let timer: NodeJS.Timeout | undefined;
    let trickle: NodeJS.Timeout | undefined;
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      clearTimeout(trickle);
      socket.destroy();
      resolve({ ...parseResponse(Buffer.concat(received).toString('latin1')), closed, elapsedMs: performance.now() - sentAt });
    };
    socket.on('data', (data) => {
      received.push(data);
      if (options.untilAnswered && isWhole(Buffer.concat(received).toString('latin1'), options.head ?? false)) finish(false);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => finish(true));
    socket.on('connect', () => {
      const writeNext = (index: number) => {
        if (socket.destroyed) return;
        if (index >= parts.length) {
          sentAt = performance.now();
          if (options.halfClose) socket.end();
          timer = setTimeout(() => finish(false), waitMs);
          return;
        }
        socket.write(parts[index]!);
        if (options.gapMs) trickle = setTimeout(() => writeNext(index + 1), options.gapMs);
        else writeNext(index + 1);
      };
      writeNext(0);
    });
  });
}

function parseResponse(text: string): Omit<RawResponse, 'closed' | 'elapsedMs'> {
  const end = text.indexOf('\r\n\r\n');
  if (!text.startsWith('HTTP/') || end < 0) return { status: 0, headers: {}, body: '' };
  const [statusLine = '', ...headerLines] = text.slice(0, end).split('\r\n');
  const headers = Object.fromEntries(headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  const length = headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
  const rest = text.slice(end + 4);
  return { status: Number(statusLine.split(' ')[1]), headers, body: length === undefined ? rest : rest.slice(0, length) };
}

function isWhole(text: string, head: boolean): boolean {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return false;
  if (head) return true;
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end))?.[1];
  return length !== undefined && Buffer.byteLength(text.slice(end + 4), 'latin1') >= Number(length);
}
