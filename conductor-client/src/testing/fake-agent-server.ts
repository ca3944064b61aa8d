/**
 * A small but real IPA-compatible agent API for tests: it listens on
 * 127.0.0.1 (HTTP or HTTPS), checks the token on every command call, runs one
 * command at a time (409 when busy) and records every request.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  renderCommandError, toIngotError, type CommandResult,
} from '@ingot/protocol';
import { defaultFakeHandlers, defaultFakeValidators } from './fake-agent-handlers.ts';
import type { FakeAgentOptions, FakeCommandContext } from './fake-agent-types.ts';

export type { FakeAgentOptions, FakeCommandContext, FakeCommandHandler } from './fake-agent-types.ts';

export interface RecordedAgentRequest {
  method: string;
  path: string;
  /** The query without agent_token. */
  query: Record<string, string>;
  /** The agent_token that came with the request, if any. */
  token: string | undefined;
  body: unknown;
}

export interface FakeAgentServer {
  /** `http(s)://127.0.0.1:<port>`: what an agent sends as callback_url. */
  readonly url: string;
  /** Every request received, in order. */
  readonly requests: RecordedAgentRequest[];
  /** Command results, oldest first, as `GET /v1/commands/` lists them. */
  readonly commands: CommandResult[];
  setToken(token: string | undefined): void;
  /** Drops the connection instead of answering the next `count` POSTs (the command still starts). */
  dropResponses(count: number): void;
  /** Whether it stopped serving after one of `stopsAfter` (finalize_rescue, lockdown). */
  readonly stopped: boolean;
  close(): Promise<void>;
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

const fault = (res: http.ServerResponse, status: number, faultstring: string, code: string) =>
  send(res, status, { faultcode: status >= 500 ? 'Server' : 'Client', faultstring, error_code: code });

/** Starts a fake agent on 127.0.0.1. */
export async function createFakeAgentServer(options: FakeAgentOptions = {}): Promise<FakeAgentServer> {
  let token = options.token;
  let toDrop = 0;
  const requests: RecordedAgentRequest[] = [];
  const commands: CommandResult[] = [];
  const handlers = { ...defaultFakeHandlers(options), ...options.handlers };
  const validators = { ...defaultFakeValidators(options), ...options.validators };
  const stopsAfter = new Set(options.stopsAfter ?? ['rescue.finalize_rescue', 'system.lockdown']);
  let stopped = false;

  async function run(name: string, params: Record<string, unknown>, wait: boolean): Promise<CommandResult> {
    const short = name.slice(name.indexOf('.') + 1);
    const result: CommandResult = { id: randomUUID(), command_name: short, command_status: 'RUNNING', command_error: null, command_result: null };
    commands.push(result);
    const context: FakeCommandContext = { setProgress: (progress) => { result.command_progress = progress; } };
    const done = (async () => {
      try {
        result.command_result = (await handlers[name]!(params, context)) ?? null;
        result.command_status = 'SUCCEEDED';
      } catch (thrown) {
        const error = toIngotError(thrown, 'INGOT_COMMAND_FAILED');
        result.command_status = error.code === 'INGOT_VERSION_MISMATCH' ? 'CLEAN_VERSION_MISMATCH' : 'FAILED';
        result.command_error = renderCommandError(error);
      }
    })();
    if (wait) await done;
    return result;
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://agent');
    const presented = url.searchParams.get('agent_token') ?? undefined;
    url.searchParams.delete('agent_token');
    const raw = await new Promise<string>((resolve) => {
      let text = '';
      req.on('data', (chunk: Buffer) => { text += chunk.toString('utf8'); });
      req.on('end', () => resolve(text));
    });
    let body: unknown;
    try { body = raw ? JSON.parse(raw) : undefined; } catch { body = raw; }
    requests.push({ method: req.method ?? '', path: url.pathname, query: Object.fromEntries(url.searchParams), token: presented, body });
    if (url.pathname !== '/v1/commands/' && url.pathname !== '/v1/commands') return fault(res, 404, 'Not found', 'INGOT_NOT_FOUND');
    if (!token || presented !== token) return fault(res, 401, '401 Unauthorized: Token invalid.', 'INGOT_TOKEN_INVALID');
    if (req.method === 'GET') return send(res, 200, { commands });
    if (req.method !== 'POST') return fault(res, 405, 'Method Not Allowed', 'INGOT_METHOD_NOT_ALLOWED');
    const last = commands.at(-1);
    if (last?.command_status === 'RUNNING') return fault(res, 409, `Agent is busy: executing command ${last.command_name}`, 'INGOT_AGENT_BUSY');
    const { name, params } = (body ?? {}) as { name?: unknown; params?: unknown };
    if (typeof name !== 'string' || params === null || typeof params !== 'object') {
      return fault(res, 400, '400 Bad Request: Missing or invalid name or params', 'INGOT_BAD_REQUEST');
    }
    if (!handlers[name]) return fault(res, 400, `Invalid command: Unknown command: ${name}`, 'INGOT_INVALID_COMMAND');
    try {
      validators[name]?.(params as Record<string, unknown>);
    } catch (thrown) {
      const error = toIngotError(thrown, 'INGOT_INVALID_PARAMS');
      return fault(res, error.status < 500 ? error.status : 400, error.message, error.code);
    }
    // The real agent runs these synchronously and stops once the reply is sent.
    const stops = stopsAfter.has(name);
    const result = await run(name, params as Record<string, unknown>, stops || url.searchParams.get('wait')?.toLowerCase() === 'true');
    if (stops && result.command_status === 'SUCCEEDED') {
      res.setHeader('Connection', 'close');
      res.once('finish', () => {
        stopped = true;
        server.close();
        server.closeIdleConnections();
      });
    }
    if (toDrop > 0) {
      toDrop -= 1;
      res.socket?.destroy();
      return;
    }
    send(res, 200, result);
  }

  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handle(req, res).catch((error: unknown) => fault(res, 500, toIngotError(error).message, 'INGOT_INTERNAL'));
  };
  const server = options.tls ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, listener) : http.createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    commands,
    setToken(value) { token = value; },
    dropResponses(count) { toDrop = count; },
    get stopped() { return stopped; },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

