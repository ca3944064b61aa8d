import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { renderIronicConfig, STATE_SUBDIRS } from './ironic-config.ts';
import { findFreePort } from './free-port.ts';
import { readLogTail } from './log-tail.ts';

const execFileAsync = promisify(execFile);

/**
 * Debian's python3-ironic ships modules, not console scripts, and only the
 * system interpreter sees dist-packages (a pyenv/venv python3 cannot).
 */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/**
 * Left out of log tails: the start-up dump of every option (debug = True),
 * periodic-task ticks, and the test's own polling of the node.
 */
const REPORT_NOISE = / log_opt_values |futurist\.periodics|"GET \/v1\/nodes\/[^"]*" status: 200/;

export const IRONIC_INSTALL_HINT = 'apt-get install -y python3-ironic';

export interface StartIronicOptions {
  /** Directory for config, SQLite, logs and certificates; a fresh temp dir when omitted. */
  stateDir?: string;
  /** [deploy]fast_track: lookup is also allowed in manageable/available. */
  fastTrack?: boolean;
  /** [deploy]fast_track_timeout in seconds: how recent the last heartbeat must be for a fast-track step; default heartbeatTimeout. */
  fastTrackTimeout?: number;
  /** [api]ramdisk_heartbeat_timeout in seconds; the agent heartbeats at 0.3-0.6x of it. */
  heartbeatTimeout?: number;
  /** [conductor]clean_callback_timeout / deploy_callback_timeout in seconds. */
  callbackTimeout?: number;
  /** [agent]require_tls: refuse heartbeats whose callback_url is not https. */
  requireTls?: boolean;
  /** How long to wait for `GET /` to answer. */
  startTimeoutMs?: number;
  /** Progress lines (start, stop); never Ironic's own log. */
  log?: (line: string) => void;
}

export interface IronicServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly stateDir: string;
  readonly configPath: string;
  readonly databasePath: string;
  /** Ironic's log and the process's stdout/stderr, in one file. */
  readonly logPath: string;
  /** [agent]certificates_path: auto-TLS certificates land here as `<node uuid>.crt`. */
  readonly certificatesPath: string;
  /** Milliseconds from spawning the service to the first answer of `GET /`. */
  readonly startupMs: number;
  /** The last lines of logPath (without the option dump), for a failing test's report. */
  logTail(lines?: number): Promise<string>;
  /**
   * Each distinct 4xx faultstring Ironic answered (to the agent or the
   * test), e.g. 'Detected change in ramdisk provided "agent_verify_ca"'.
   */
  readClientErrors(): Promise<string[]>;
  /** SIGTERM, then SIGKILL after a bound; safe to call more than once. */
  stop(): Promise<void>;
}

export class IronicNotInstalledError extends Error {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`Debian's Ironic is not importable by ${SYSTEM_PYTHON} (${detail}); install it with: ${IRONIC_INSTALL_HINT}`, options);
    this.name = 'IronicNotInstalledError';
  }
}

/** Resolves to a reason when Ironic cannot run here, or null when it can. */
export async function checkIronicInstalled(): Promise<string | null> {
  try {
    await execFileAsync(SYSTEM_PYTHON, ['-c', 'import ironic.cmd.singleprocess, ironic.cmd.dbsync'], { timeout: 30_000 });
    return null;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim().split('\n').at(-1);
    return stderr || (error as Error).message;
  }
}

/**
 * Starts Debian's Ironic (API and conductor in one process, SQLite, no auth)
 * on a free port of 127.0.0.1, as ironic-standalone.md describes.
 */
export async function startIronic(options: StartIronicOptions = {}): Promise<IronicServer> {
  const log = options.log ?? (() => {});
  const missing = await checkIronicInstalled();
  if (missing !== null) throw new IronicNotInstalledError(missing);

  const stateDir = options.stateDir ?? (await mkdtemp(path.join(os.tmpdir(), 'ingot-ironic-')));
  await Promise.all(STATE_SUBDIRS.map((dir) => mkdir(path.join(stateDir, dir), { recursive: true })));
  const port = await findFreePort({ avoid: [8080, 6385] });
  const configPath = path.join(stateDir, 'ironic.conf');
  const logPath = path.join(stateDir, 'ironic.log');
  await writeFile(
    configPath,
    renderIronicConfig({
      stateDir,
      port,
      fastTrack: options.fastTrack ?? false,
      fastTrackTimeout: options.fastTrackTimeout,
      heartbeatTimeout: options.heartbeatTimeout ?? 10,
      callbackTimeout: options.callbackTimeout ?? 120,
      requireTls: options.requireTls ?? false,
    }),
  );

  await createSchema(configPath);

  // Ironic's log_file is this same file; both open it with O_APPEND, so
  // Python tracebacks printed before logging is set up are kept in order.
  const logFd = openSync(logPath, 'a');
  const started = Date.now();
  const child = spawn(SYSTEM_PYTHON, ['-c', pythonMain('singleprocess', 'ironic', configPath)], {
    cwd: stateDir,
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${SYSTEM_PYTHON} for Ironic`);
  const exited = watchExit(child);
  const killOnExit = (): void => {
    if (exited.code === undefined) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const url = `http://127.0.0.1:${port}`;
  let stopping: Promise<void> | undefined;
  const server: IronicServer = {
    url,
    port,
    pid,
    stateDir,
    configPath,
    databasePath: path.join(stateDir, 'ironic.sqlite'),
    logPath,
    certificatesPath: path.join(stateDir, 'certs'),
    startupMs: 0,
    logTail: (lines = 80) => readLogTail(logPath, lines, REPORT_NOISE),
    readClientErrors: () => readClientErrors(logPath),
    stop: () => {
      stopping ??= stopChild(child, exited.promise, 10_000).then(() => {
        process.removeListener('exit', killOnExit);
        log(`ironic (pid ${pid}) stopped`);
      });
      return stopping;
    },
  };

  try {
    await waitForApi(url, exited, options.startTimeoutMs ?? 60_000);
  } catch (error) {
    await server.stop();
    const tail = await server.logTail(40);
    throw new Error(`Ironic did not start on ${url}: ${(error as Error).message}\n--- ${logPath} (tail) ---\n${tail}`, {
      cause: error,
    });
  }
  const startupMs = Date.now() - started;
  log(`ironic (pid ${pid}) answers on ${url} after ${startupMs} ms; state in ${stateDir}`);
  return { ...server, startupMs };
}

async function readClientErrors(logPath: string): Promise<string[]> {
  const text = await readFile(logPath, 'utf8').catch(() => '');
  const errors = [...text.matchAll(/ Client-side error: (.*) format_exception /g)].map((match) => match[1]!);
  return [...new Set(errors)];
}

function pythonMain(module: 'singleprocess' | 'dbsync', argv0: string, configPath: string, ...args: string[]): string {
  const argv = JSON.stringify([argv0, '--config-file', configPath, ...args]);
  return [
    'import ctypes, os, sys',
    // PR_SET_PDEATHSIG = 1, SIGKILL = 9: if the test process dies without
    // running stop() (Ctrl-C, a killed worker), Ironic dies with it instead
    // of holding its port and SQLite file forever.
    'ctypes.CDLL(None).prctl(1, 9)',
    `if os.getppid() != ${process.pid}: os._exit(1)`,
    `from ironic.cmd import ${module}`,
    `sys.argv = ${argv}`,
    `sys.exit(${module}.main())`,
  ].join('\n');
}

async function createSchema(configPath: string): Promise<void> {
  try {
    await execFileAsync(SYSTEM_PYTHON, ['-c', pythonMain('dbsync', 'ironic-dbsync', configPath, 'create_schema')], {
      timeout: 60_000,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`ironic-dbsync create_schema failed:\n${stderr.slice(-4000)}`, { cause: error });
  }
}

interface ExitWatch {
  code: number | null | undefined;
  promise: Promise<void>;
}

function watchExit(child: ChildProcess): ExitWatch {
  const watch: ExitWatch = { code: undefined, promise: Promise.resolve() };
  watch.promise = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      watch.code = code ?? (signal ? -1 : null);
      resolve();
    });
  });
  return watch;
}

async function waitForApi(url: string, exited: ExitWatch, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (exited.code !== undefined) throw new Error(`the process exited early (code ${exited.code})`);
    try {
      const response = await fetch(`${url}/`, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) {
        await response.body?.cancel();
        return;
      }
      lastError = new Error(`GET / answered ${response.status}`);
    } catch (error) {
      lastError = error;
    }
    await sleep(100);
  }
  throw new Error(`no answer within ${timeoutMs} ms`, { cause: lastError });
}

async function stopChild(child: ChildProcess, exited: Promise<void>, killAfterMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  await exited;
  clearTimeout(timer);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
