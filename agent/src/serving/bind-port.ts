import net from 'node:net';
import type { Logger } from 'pino';
import { IngotError } from '@ingot/protocol';

/**
 * The API's listening socket, bound before the agent looks itself up: a port
 * that cannot be had fails the start, before the conductor issues a token
 * for an agent that could never be called back. What serves on it (plain
 * HTTP or HTTPS) is only known after the lookup (automatic TLS needs the
 * conductor's API version, serving/choose-tls.ts), so the socket is handed
 * to that server then.
 */
export interface BoundPort {
  readonly host: string;
  /** The local port (the configured one, or the kernel's choice for port 0). */
  readonly port: number;
  /**
   * Lets `server` accept on this socket (Node's `server.listen(handle)`,
   * which takes a listening server); until then a connection is closed at
   * once: nothing was advertised yet, and an early caller retries.
   */
  handTo(server: net.Server): Promise<void>;
  /** Closes the socket, when no server took it. */
  close(): Promise<void>;
}

export async function bindApiPort(options: { host: string; port: number; log: Logger }): Promise<BoundPort> {
  const { host, port, log } = options;
  const holder = net.createServer((socket) => {
    log.debug({ remote: socket.remoteAddress }, 'a connection before the API serves (the lookup is not done): closed');
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    holder.once('error', (error: NodeJS.ErrnoException) => reject(listenError(host, port, error)));
    holder.listen(port, host, resolve);
  });
  const bound = (holder.address() as net.AddressInfo).port;
  let taken = false;
  return {
    host,
    port: bound,
    async handTo(server) {
      taken = true;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(holder, () => {
          server.off('error', reject);
          resolve();
        });
      });
    },
    async close() {
      if (taken) return;
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    },
  };
}

/** What went wrong and what to do, for the one line the agent exits with. */
function listenError(host: string, port: number, error: NodeJS.ErrnoException): IngotError {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const what = error.code === 'EADDRINUSE'
    ? `the port is already in use (EADDRINUSE); stop what listens there or choose another port with --listen-port (ipa-listen-port)`
    : error.code === 'EACCES'
      ? `permission denied (EACCES): ports below 1024 need root; choose another port with --listen-port (ipa-listen-port)`
      : error.code === 'EADDRNOTAVAIL'
        ? `${host} is not an address of this machine (EADDRNOTAVAIL); choose another with --listen-host (ipa-listen-host)`
        : `${error.message}; check --listen-host and --listen-port (ipa-listen-host, ipa-listen-port)`;
  // No cause: Node's own text ("listen EADDRINUSE: address already in use ...") would repeat the line's reason.
  return new IngotError('INGOT_LISTEN_FAILED', { details: `cannot listen on ${where}: ${what}` });
}
