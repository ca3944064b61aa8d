import { spawn } from 'node:child_process';

export interface ExecOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Bytes written to the child's stdin, or a file descriptor to read it from. */
  input?: string | Buffer;
  /** Where stdout goes: captured (default) or a file descriptor. */
  stdoutFd?: number;
  /** Kills the program (SIGTERM) when aborted; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export class CommandError extends Error {
  constructor(readonly argv: readonly string[], readonly exitCode: number | null, readonly stderr: string) {
    super(`${argv.join(' ')} failed (exit ${exitCode ?? 'signal'}): ${stderr.trim().split('\n').slice(-5).join('\n')}`);
    this.name = 'CommandError';
  }
}

/** Runs a program (no shell), resolving with its stdout; rejects with its stderr on a non-zero exit. */
export function run(argv: readonly string[], options: ExecOptions = {}): Promise<string> {
  const [file, ...args] = argv;
  if (!file) throw new Error('run() needs a program');
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', options.stdoutFd ?? 'pipe', 'pipe'],
      signal: options.signal,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) => reject(options.signal?.aborted ? options.signal.reason : new CommandError(argv, null, error.message)));
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new CommandError(argv, code, Buffer.concat(err).toString('utf8')));
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}
