/**
 * The receive component of the limit (perf-limits.md 2 and 5): one HTTP GET
 * read with `onread` into one reused 4 MiB buffer and thrown away, the
 * cheapest receive measured there (0.7 CPU s per 2 GiB, against 1.0 for
 * curl). The agent receives this way, so curl's cost would understate the
 * limit. With `noop` it only starts and exits: its cost is subtracted.
 * Usage: receive.ts <url> | receive.ts noop
 */
import net from 'node:net';

const [arg] = process.argv.slice(2);
if (!arg) throw new Error('usage: receive.ts <url> | noop');
if (arg !== 'noop') {
  const url = new URL(arg);
  const buffer = Buffer.allocUnsafe(4 * 1024 * 1024);
  let head = '';
  let remaining = -1;
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect({
      host: url.hostname,
      port: Number(url.port),
      onread: {
        buffer,
        callback(n: number, buf: Buffer) {
          let body = n;
          if (remaining < 0) {
            head += buf.toString('latin1', 0, n);
            const end = head.indexOf('\r\n\r\n');
            if (end < 0) return true;
            const length = /\r\ncontent-length: *(\d+)/i.exec(head.slice(0, end))?.[1];
            if (!head.startsWith('HTTP/1.1 200') || length === undefined) {
              reject(new Error(`${arg}: ${head.split('\r\n')[0]}`));
              return false;
            }
            remaining = Number(length);
            body = head.length - end - 4;
          }
          remaining -= body;
          if (remaining <= 0) {
            socket.destroy();
            resolve();
            return false;
          }
          return true;
        },
      },
    } as net.NetConnectOpts);
    socket.on('error', reject);
    socket.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`);
  });
}
