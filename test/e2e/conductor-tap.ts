/**
 * A recording HTTP relay between the guest and the reference conductor. The
 * conductor keeps the tokens it issues to itself and wipes them at the end of
 * cleaning; the test still has to call the agent afterwards (to collect its
 * logs), so it reads the token from the lookup reply and the pinned
 * certificate from the heartbeat, as they cross the wire.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ConductorTap {
  readonly port: number;
  /** `config.agent_token` of lookup replies, in order (including "******"). */
  readonly tokens: string[];
  /** Heartbeat bodies, in order. */
  readonly heartbeats: Array<{ callback_url?: string; agent_verify_ca?: string; agent_token?: string }>;
  /** Request lines seen, for failure messages. */
  readonly requests: string[];
  close(): Promise<void>;
}

export async function startConductorTap(target: string): Promise<ConductorTap> {
  const upstream = new URL(target);
  const tokens: string[] = [];
  const heartbeats: ConductorTap['heartbeats'] = [];
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = (req.url ?? '/').replace(/([?&]agent_token=)[^&]*/g, '$1***');
      requests.push(`${req.method} ${path}`);
      if (req.method === 'POST' && /^\/v1\/heartbeat\//.test(req.url ?? '')) {
        try { heartbeats.push(JSON.parse(body.toString('utf8')) as ConductorTap['heartbeats'][number]); } catch { /* recorded as a request only */ }
      }
      const forward = http.request({
        host: upstream.hostname, port: upstream.port, method: req.method, path: req.url,
        headers: { ...req.headers, host: upstream.host },
      }, (reply) => {
        const replyChunks: Buffer[] = [];
        reply.on('data', (chunk: Buffer) => replyChunks.push(chunk));
        reply.on('end', () => {
          const replyBody = Buffer.concat(replyChunks);
          if (/^\/v1\/lookup/.test(req.url ?? '') && reply.statusCode === 200) {
            try {
              const token = (JSON.parse(replyBody.toString('utf8')) as { config?: { agent_token?: string } }).config?.agent_token;
              if (typeof token === 'string') tokens.push(token);
            } catch { /* not JSON: nothing to record */ }
          }
          res.writeHead(reply.statusCode ?? 502, reply.headers);
          res.end(replyBody);
        });
      });
      forward.on('error', (error) => { res.writeHead(502); res.end(String(error)); });
      forward.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port, tokens, heartbeats, requests,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
