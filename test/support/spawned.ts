/**
 * A command started as its own process, as a user runs it, with what it
 * prints collected as it comes and its end as a promise: the exit status, or
 * the signal's name when a signal ended it. The end is 'close', not 'exit':
 * only then has every byte it printed been read.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | string | null>;
}

export function startSpawned(command: string, args: readonly string[], options: SpawnOptions = {}): Spawned {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => { out += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { err += chunk.toString(); });
  const exited = new Promise<number | string | null>((done, fail) => {
    child.once('error', fail);
    child.once('close', (code, signal) => done(code ?? signal));
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** What a finished command left: its status and everything it printed. */
export interface Ran {
  status: number | string | null;
  stdout: string;
  stderr: string;
}

export async function ranToEnd(spawned: Spawned): Promise<Ran> {
  const status = await spawned.exited;
  return { status, stdout: spawned.stdout(), stderr: spawned.stderr() };
}
