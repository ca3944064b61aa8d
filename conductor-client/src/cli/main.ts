#!/usr/bin/env node
/**
 * `ingot-conductor clean|deploy|rescue|snapshot`: the entry point, and the only place
 * that builds real things (logger, conductor, terminal output) from the
 * command line.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { EXIT, runProgram } from '@ingot/protocol/cli';
import { readRescuePassword } from '../conductor/rescue-password.ts';
import { createConductorProgram, type CliCommand } from './args.ts';
import { createCliLogger } from './cli-log.ts';
import { passwordFileError, runConductorCommand, type CliIo, type RunnableCommand } from './run-command.ts';
import { createStoreFromSpec } from './snapshot-options.ts';
import { resolveSnapshotImage } from './snapshot-source.ts';

export type { CliIo } from './run-command.ts';

const stdio: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`),
  write: (text) => process.stdout.write(text), isTTY: process.stdout.isTTY === true, columns: process.stdout.columns,
  logIsTTY: process.stderr.isTTY === true,
};

/** The package's version, read where it sits beside both the sources and the build (src/cli, dist/cli). */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The password from --rescue-password-file; a missing file or empty first line is a usage error naming the file, never the password. */
function readPasswordFile(path: string): string {
  try {
    return readRescuePassword(readFileSync(path, 'utf8'), `--rescue-password-file ${path}`);
  } catch (error) {
    throw passwordFileError(path, error);
  }
}

async function run(command: CliCommand, io: CliIo, env: Record<string, string | undefined>, signal?: AbortSignal): Promise<number> {
  const password = command.kind === 'rescue' ? readPasswordFile(command.rescuePasswordFile) : undefined;
  const log = createCliLogger({ verbose: command.verbose, warn: (line) => io.err(`ingot-conductor: ${line}`), stream: io.logStream, isTTY: io.logIsTTY });
  // The stores' secrets come from the environment, read here and nowhere else.
  const store = command.kind === 'snapshot' ? createStoreFromSpec(command.store, env, log) : undefined;
  let runnable: RunnableCommand;
  if (command.kind !== 'deploy') runnable = command;
  else if (command.snapshot) runnable = { ...command, image: await resolveSnapshotImage(command.snapshot, env, log) };
  else runnable = { ...command, image: command.image! };
  return runConductorCommand(runnable, io, log, signal, password, store);
}

/** Runs the CLI and returns the exit status (0 done, 1 failed or timed out, 2 usage, 130 interrupted). */
export async function runCli(argv: readonly string[], io: CliIo = stdio, signal?: AbortSignal, env: Record<string, string | undefined> = process.env): Promise<number> {
  let status: number = EXIT.ok;
  let verbose = false;
  const program = createConductorProgram({
    version: packageVersion(),
    // commander writes whole blocks (help, errors) ending in a newline; io takes lines.
    write: { out: (text) => io.out(text.replace(/\n$/, '')), err: (text) => io.err(text.replace(/\n$/, '')) },
    run: async (command) => {
      verbose = command.verbose;
      status = await run(command, io, env, signal);
    },
  });
  const parsed = await runProgram(program, argv, { name: 'ingot-conductor', verbose: () => verbose, err: (text) => io.err(text.replace(/\n$/, '')) });
  return parsed === EXIT.ok ? status : parsed;
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const interrupt = new AbortController();
  process.once('SIGINT', () => interrupt.abort());
  process.once('SIGTERM', () => interrupt.abort());
  process.exitCode = await runCli(process.argv.slice(2), stdio, interrupt.signal);
}
