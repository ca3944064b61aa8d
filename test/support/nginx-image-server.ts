/**
 * Debian's nginx serving a directory of images on 127.0.0.1, as an operator's
 * image server would: HEAD, GET, byte ranges, real Content-Length and
 * Last-Modified. One process (`master_process off`), stopped by its PID, with
 * everything it writes (pid, logs, temp paths) inside its own directory.
 * The access log records method, path, status, bytes and Range header, so a
 * test can see who fetched what.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { findFreePort } from '../integration/ironic/free-port.ts';

export const NGINX = '/usr/sbin/nginx';
export const NGINX_INSTALL_HINT = 'apt-get install -y nginx';

export interface ImageServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly root: string;
  /** Requests served so far, oldest first. */
  readAccessLog(): Promise<AccessLogEntry[]>;
  readErrorLog(): Promise<string>;
  stop(): Promise<void>;
}

export interface AccessLogEntry {
  method: string;
  path: string;
  status: number;
  bytes: number;
  range: string | null;
  userAgent: string;
}

/** Null when nginx can run here, else why not. */
export function checkNginxInstalled(): string | null {
  return existsSync(NGINX) ? null : `${NGINX} is missing; install it with: ${NGINX_INSTALL_HINT}`;
}

export interface ImageServerOptions {
  root: string;
  stateDir: string;
  log?: (line: string) => void;
  /** nginx directives added inside `server {}` (nginx-dav-server.ts adds WebDAV PUT). */
  serverDirectives?: string;
}

function renderConfig(stateDir: string, root: string, port: number, serverDirectives = ''): string {
  const at = (name: string) => path.join(stateDir, name);
  return `daemon off;
master_process off;
worker_processes 1;
pid ${at('nginx.pid')};
error_log ${at('error.log')} info;
events { worker_connections 64; }
http {
  log_format ingot '$request_method $uri $status $body_bytes_sent "$http_range" "$http_user_agent"';
  access_log ${at('access.log')} ingot;
  client_body_temp_path ${at('tmp/body')};
  proxy_temp_path ${at('tmp/proxy')};
  fastcgi_temp_path ${at('tmp/fastcgi')};
  uwsgi_temp_path ${at('tmp/uwsgi')};
  scgi_temp_path ${at('tmp/scgi')};
  default_type application/octet-stream;
  sendfile on;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    autoindex off;
${serverDirectives}  }
}
`;
}

/** Starts nginx serving `root`; its config, logs and pid go to `stateDir`. */
export async function startImageServer(options: ImageServerOptions): Promise<ImageServer> {
  const missing = checkNginxInstalled();
  if (missing) throw new Error(missing);
  await mkdir(path.join(options.stateDir, 'tmp'), { recursive: true });
  // Another process may take a free port before nginx binds it: try a few.
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const port = await findFreePort({ avoid: [8080] });
    const configPath = path.join(options.stateDir, 'nginx.conf');
    await writeFile(configPath, renderConfig(options.stateDir, path.resolve(options.root), port, options.serverDirectives));
    // -e: the error log before the config is read (otherwise /var/log/nginx/error.log).
    const child = spawn(NGINX, ['-p', options.stateDir, '-e', path.join(options.stateDir, 'error.log'), '-c', configPath], { stdio: 'ignore' });
    try {
      await waitUntilServing(child, port);
      options.log?.(`nginx (pid ${child.pid}) serves ${options.root} on http://127.0.0.1:${port}`);
      return createHandle(child, port, options);
    } catch (error) {
      lastError = error;
      child.kill('SIGKILL');
    }
  }
  const errors = await readFile(path.join(options.stateDir, 'error.log'), 'utf8').catch(() => '');
  throw new Error(`nginx did not start: ${(lastError as Error).message}\n${errors.slice(-2000)}`, { cause: lastError });
}

async function waitUntilServing(child: ChildProcess, port: number): Promise<void> {
  let exited: string | undefined;
  child.once('exit', (code, signal) => { exited = `exited (code ${code}, signal ${signal})`; });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`nginx ${exited}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/`, { method: 'HEAD', signal: AbortSignal.timeout(1_000) });
      // Any answer from nginx (403 or 404 for the bare root) means it is serving.
      if (response.headers.get('server')?.startsWith('nginx')) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('nginx did not answer within 10 s');
}

function createHandle(child: ChildProcess, port: number, options: ImageServerOptions): ImageServer {
  const pid = child.pid!;
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const killOnExit = (): void => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  process.once('exit', killOnExit);
  let stopping: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid,
    root: options.root,
    readAccessLog: async () => parseAccessLog(await readFile(path.join(options.stateDir, 'access.log'), 'utf8').catch(() => '')),
    readErrorLog: () => readFile(path.join(options.stateDir, 'error.log'), 'utf8').catch(() => ''),
    stop: () => {
      stopping ??= (async () => {
        // SIGQUIT is nginx's graceful stop; SIGKILL if it lingers.
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGQUIT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
        process.removeListener('exit', killOnExit);
        options.log?.(`nginx (pid ${pid}) stopped`);
      })();
      return stopping;
    },
  };
}

/** Lines of the `ingot` log_format above. */
export function parseAccessLog(text: string): AccessLogEntry[] {
  const entries: AccessLogEntry[] = [];
  for (const line of text.split('\n')) {
    const match = /^(\S+) (\S+) (\d{3}) (\d+) "([^"]*)" "([^"]*)"$/.exec(line);
    if (!match) continue;
    entries.push({
      method: match[1]!, path: match[2]!, status: Number(match[3]), bytes: Number(match[4]),
      range: match[5] === '-' || match[5] === '' ? null : match[5]!, userAgent: match[6]!,
    });
  }
  return entries;
}
