import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readLogTail } from './log-tail.ts';
import { SOURCE_NODE_ARGS } from '../../support/run-source.ts';

const SETPRIV = '/usr/bin/setpriv';

/** The repository root: three levels above test/integration/ironic/. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface StartAgentOptions {
  apiUrl: string;
  disks: string[];
  machineFile: string;
  listenPort: number;
  stateDir: string;
  /** stdout and stderr of the agent go here. */
  logPath: string;
  lookupTimeoutSeconds?: number;
  extraArgs?: string[];
  /** The agent's entry point; default: this repository's agent/src/main.ts. */
  mainPath?: string;
}

export interface AgentProcess {
  readonly pid: number;
  readonly logPath: string;
  readonly argv: string[];
  /** Exit code or signal once it has exited, else undefined. */
  exitStatus(): string | undefined;
  logTail(lines?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after 5 s; safe to call more than once. */
  stop(): Promise<void>;
}

/**
 * Runs the agent's CLI as a child process, from source through tsx. `node
 * --import tsx` keeps it one process, so killing the PID kills the agent
 * (the tsx CLI would put a second node process in between); the condition
 * leads `@ingot/protocol` to its sources, as in every other dev run.
 */
export function startAgentProcess(options: StartAgentOptions): AgentProcess {
  const argv = [
    ...SOURCE_NODE_ARGS,
    options.mainPath ?? path.join(REPO_ROOT, 'agent/src/main.ts'),
    '--api-url',
    options.apiUrl,
    ...options.disks.flatMap((disk) => ['--disk', disk]),
    '--machine',
    options.machineFile,
    '--listen-host',
    '127.0.0.1',
    '--listen-port',
    String(options.listenPort),
    '--advertise-host',
    '127.0.0.1',
    '--lookup-timeout',
    String(options.lookupTimeoutSeconds ?? 300),
    '--state-dir',
    options.stateDir,
    ...(options.extraArgs ?? []),
  ];
  // setpriv (util-linux) sets the parent-death signal and then execs node,
  // keeping the PID: an agent orphaned by a killed test run dies too.
  const withSetpriv = existsSync(SETPRIV);
  const command = withSetpriv ? SETPRIV : process.execPath;
  const args = withSetpriv ? ['--pdeathsig', 'KILL', '--', process.execPath, ...argv] : argv;
  const logFd = openSync(options.logPath, 'a');
  const child = spawn(command, args, { cwd: REPO_ROOT, stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  if (child.pid === undefined) throw new Error(`could not spawn the agent: ${process.execPath} ${argv.join(' ')}`);
  const pid = child.pid;

  let status: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      status = signal ? `signal ${signal}` : `code ${code}`;
      resolve();
    });
  });
  const killOnExit = (): void => {
    if (status === undefined) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  return {
    pid,
    logPath: options.logPath,
    argv: [process.execPath, ...argv],
    exitStatus: () => status,
    logTail: (lines = 60) => readLogTail(options.logPath, lines),
    stop: () => {
      stopping ??= stopChild(child, exited).finally(() => process.removeListener('exit', killOnExit));
      return stopping;
    },
  };
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
