import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config.ts';
import { bindApiPort, type BoundPort } from './bind-port.ts';
import type { ServedTls } from './choose-tls.ts';
import { applyServerLimits, serverLimitsFrom, serverOptions, type ServerLimits } from './server-limits.ts';

/** The agent's API server once it listens. */
export interface ApiServer {
  /** The local port (the configured one, or the one the kernel chose for port 0). */
  readonly port: number;
  /** What the conductor calls back: `<protocol>://<advertised host>:<advertised or local port>`. */
  readonly callbackUrl: string;
  close(): Promise<void>;
}

export interface ServeApiOptions {
  config: Pick<AgentConfig, 'listenHost' | 'listenPort' | 'advertisePort' | 'advertiseProtocol' | 'tlsMinVersion' | 'apiHeadersTimeout' | 'apiRequestTimeout' | 'apiMaxConnections'>;
  /** The request handler (the express app of api/create-api.ts). */
  handler: http.RequestListener;
  /** Where the API listens when ipa-listen-host is not set: every address inside the ramdisk, loopback elsewhere. */
  defaultListenHost: string;
  advertiseHost: string;
  tls: ServedTls | undefined;
  log: Logger;
  /** Overrides the limits derived from the config (tests use short timeouts). */
  limits?: Partial<ServerLimits>;
  /** The socket bound ahead (bind-port.ts); without it the port is bound here. */
  bound?: BoundPort;
}

/**
 * Listens with the TLS chosen (choose-tls.ts) or plain HTTP, and names the
 * callback URL the heartbeat advertises (ipa-protocol.md 1.1, 2.4), with the
 * limits of server-limits.ts against clients that hold connections, on the
 * socket bound ahead (bind-port.ts; a port that cannot be bound is
 * INGOT_LISTEN_FAILED naming the address and what to do).
 */
export async function serveApi(options: ServeApiOptions): Promise<ApiServer> {
  const { config, tls, log } = options;
  const minVersion = config.tlsMinVersion === '1.3' ? 'TLSv1.3' : 'TLSv1.2';
  const limits = { ...serverLimitsFrom(config), ...options.limits };
  // A TLS handshake comes before the headers timeout starts: it gets the same time.
  const server = tls
    ? https.createServer({ ...serverOptions(limits), cert: tls.cert, key: tls.key, minVersion, handshakeTimeout: limits.headersTimeoutMs }, options.handler)
    : http.createServer(serverOptions(limits), options.handler);
  const bound = options.bound ?? await bindApiPort({ host: config.listenHost ?? options.defaultListenHost, port: config.listenPort, log });
  await bound.handTo(server);
  applyServerLimits(server, limits, log);
  const { port, host: listenHost } = bound;
  const protocol = tls ? 'https' : config.advertiseProtocol;
  const host = options.advertiseHost.includes(':') ? `[${options.advertiseHost}]` : options.advertiseHost;
  const callbackUrl = `${protocol}://${host}:${config.advertisePort ?? port}`;
  log.info({ listen: `${listenHost}:${port}`, callbackUrl, tls: tls ? tls.kind : 'none' }, 'agent API listening');
  return {
    port,
    callbackUrl,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // A conductor's wait=true poll would otherwise hold the close for up to the wait limit.
      server.closeAllConnections();
      await closed;
    },
  };
}
