/**
 * A small HTTP/1.1 reverse proxy on 127.0.0.1 that misbehaves on request: in
 * front of Swift or nginx, it makes the faults an object store or an image
 * server can have (a refusal, an expired signature, a connection cut
 * midway) happen at a chosen request, so a test can show what the client
 * does about them.
 *
 * A rule matches by request number (1-based, over all requests the proxy
 * saw), method and path (the path without its query: queries carry
 * signatures and are never recorded), and applies `times` times (default:
 * always). Actions:
 * - `respond`: read the request body whole, then answer that status, with
 *   these headers if given (so the client sees the answer, not a reset while
 *   it still sends);
 * - `cutAfterBytes`: forward the request, then destroy both connections once
 *   that many body bytes passed: the upstream never receives a whole body.
 * Anything no rule takes is forwarded as is, with the Host header rewritten
 * to the upstream's (S3 presigned URLs sign the Host: a URL made for the
 * upstream keeps its signature through the proxy).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FaultRule {
  /** Request numbers (1-based) this rule takes; absent: any. */
  requests?: number[];
  method?: string;
  /** Compared with the request's path without its query: equal, or matching. */
  path?: string | RegExp;
  /** How many requests it takes before it stops applying; default: no limit. */
  times?: number;
  action: { respond: number; body?: string; headers?: Record<string, string> } | { cutAfterBytes: number };
}

export interface SeenRequest {
  /** 1-based, in arrival order. */
  n: number;
  method: string;
  /** Without the query. */
  path: string;
  /** `forwarded` (with the upstream's status once it answered), `responded` or `cut`. */
  outcome: 'forwarded' | 'responded' | 'cut';
  status: number | null;
  /** Request body bytes the proxy received. */
  bodyBytes: number;
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly requests: readonly SeenRequest[];
  /** `url` (on the upstream) as the same URL through the proxy. */
  via(url: string): string;
  addRule(rule: FaultRule): void;
  clearRules(): void;
  /** The requests for `path` (without query). */
  requestsFor(path: string): SeenRequest[];
  stop(): Promise<void>;
}

export async function startFaultProxy(options: { upstream: string }): Promise<FaultProxy> {
  const upstream = new URL(options.upstream);
  const rules: { rule: FaultRule; left: number }[] = [];
  const requests: SeenRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();

  const server = http.createServer((request, response) => {
    const seen: SeenRequest = { n: requests.length + 1, method: request.method ?? '', path: (request.url ?? '/').split('?')[0]!, outcome: 'forwarded', status: null, bodyBytes: 0 };
    requests.push(seen);
    const taken = rules.find(({ rule, left }) => left > 0
      && (rule.requests === undefined || rule.requests.includes(seen.n))
      && (rule.method === undefined || rule.method === seen.method)
      && (rule.path === undefined || (typeof rule.path === 'string' ? rule.path === seen.path : rule.path.test(seen.path))));
    if (taken) taken.left -= 1;
    const action = taken?.rule.action;

    if (action && 'respond' in action) {
      seen.outcome = 'responded';
      seen.status = action.respond;
      request.on('data', (data: Buffer) => { seen.bodyBytes += data.length; });
      request.on('end', () => {
        const body = action.body ?? `fault proxy: ${action.respond}\n`;
        response.writeHead(action.respond, { 'Content-Type': 'text/plain', ...action.headers, 'Content-Length': Buffer.byteLength(body) });
        response.end(body);
      });
      return;
    }

    const forward = http.request({
      host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, agent: false,
      headers: { ...request.headers, host: upstream.host },
    });
    forward.on('response', (answer) => {
      seen.status = answer.statusCode ?? null;
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    forward.on('error', () => {
      if (!response.headersSent && seen.outcome !== 'cut') response.writeHead(502).end();
      else response.destroy();
    });
    const cutAt = action && 'cutAfterBytes' in action ? action.cutAfterBytes : Infinity;
    request.on('data', (data: Buffer) => {
      const room = cutAt - seen.bodyBytes;
      if (data.length >= room && cutAt !== Infinity) {
        seen.bodyBytes += room;
        seen.outcome = 'cut';
        forward.write(data.subarray(0, room));
        forward.destroy();
        request.socket.destroy();
        return;
      }
      seen.bodyBytes += data.length;
      if (!forward.write(data)) {
        request.pause();
        forward.once('drain', () => request.resume());
      }
    });
    request.on('end', () => { if (seen.outcome !== 'cut') forward.end(); });
    request.on('error', () => forward.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    via: (target) => {
      const parsed = new URL(target);
      if (parsed.host !== upstream.host) throw new Error(`${parsed.origin} is not this proxy's upstream ${upstream.origin}`);
      return `${url}${target.slice(parsed.origin.length)}`;
    },
    addRule: (rule) => { rules.push({ rule, left: rule.times ?? Infinity }); },
    clearRules: () => { rules.length = 0; },
    requestsFor: (path) => requests.filter((seen) => seen.path === path),
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
