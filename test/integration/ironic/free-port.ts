import net from 'node:net';

/**
 * Asks the kernel for a free TCP port on 127.0.0.1. Another process may
 * take it before we bind it; on a test machine that race is rare enough.
 */
export async function findFreePort(options: { avoid?: number[] } = {}): Promise<number> {
  const avoid = new Set(options.avoid ?? []);
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.unref();
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0 }, () => {
        const address = server.address();
        server.close(() => {
          if (address && typeof address === 'object') resolve(address.port);
          else reject(new Error('could not read the listening port'));
        });
      });
    });
    if (!avoid.has(port)) return port;
  }
  throw new Error('no free port found on 127.0.0.1');
}
