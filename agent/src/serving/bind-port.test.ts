import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { isIngotError } from '@ingot/protocol';
import { bindApiPort, type BoundPort } from './bind-port.ts';

const log = pino({ level: 'silent' });
const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
});

async function occupiedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  opened.push({ close: () => new Promise((resolve) => server.close(resolve)) });
  return (server.address() as net.AddressInfo).port;
}

/** Connects and reports how the connection ended: an HTTP status line, or closed without a word. */
function firstLine(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    let text = '';
    socket.on('data', (chunk) => { text += String(chunk); });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text.split('\r\n')[0] || 'closed'));
  });
}

describe('bindApiPort', () => {
  it('refuses a port in use with one message naming the address, EADDRINUSE and --listen-port', async () => {
    const port = await occupiedPort();
    const error = await bindApiPort({ host: '127.0.0.1', port, log }).then(() => undefined, (e: unknown) => e);
    expect(isIngotError(error, 'INGOT_LISTEN_FAILED')).toBe(true);
    expect((error as Error).message).toBe(`Cannot serve the agent API: cannot listen on 127.0.0.1:${port}: the port is already in use (EADDRINUSE); stop what listens there or choose another port with --listen-port (ipa-listen-port)`);
    expect((error as Error).cause).toBeUndefined();
  });

  it('holds the port, closing connections until a server takes it, then serves on it', async () => {
    const bound: BoundPort = await bindApiPort({ host: '127.0.0.1', port: 0, log });
    expect(bound.port).toBeGreaterThan(0);
    expect(await firstLine(bound.port)).toBe('closed');
    const server = http.createServer((_req, res) => res.end('ok'));
    opened.push({ close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }) });
    await bound.handTo(server);
    expect(await firstLine(bound.port)).toBe('HTTP/1.1 200 OK');
  });

  it('frees the port on close when no server took it', async () => {
    const bound = await bindApiPort({ host: '127.0.0.1', port: 0, log });
    await bound.close();
    const again = await bindApiPort({ host: '127.0.0.1', port: bound.port, log });
    await again.close();
  });
});
