#!/usr/bin/env node
/**
 * image-build's entry point: parses the command line (cli-args.ts) and runs
 * the subcommand. Ctrl-C or SIGTERM stops the running tool, removes what was
 * half-written and exits 130; a second one exits at once.
 */
import { EXIT, runProgram, UsageError } from '@ingot/protocol/cli';
import packageJson from '../package.json' with { type: 'json' };
import { buildRamdisk, DEFAULT_AGENT_ENTRY, DEFAULT_LOCK, defaultCacheDir } from './build-ramdisk.ts';
import { createImageBuildProgram } from './cli-args.ts';
import { runConfigMedia } from './config-media/cli.ts';
import { resolveLock } from './resolve.ts';

/** Thrown where the build stopped on Ctrl-C: the one line printed, before exit 130. */
class Interrupted extends Error {
  override readonly name = 'Interrupted';
}

const stop = new AbortController();
const onSignal = (signal: NodeJS.Signals) => {
  if (stop.signal.aborted) process.exit(EXIT.interrupted);
  process.stderr.write(`image-build: ${signal}: stopping and removing partial outputs (again to quit at once)\n`);
  stop.abort(new Interrupted(`interrupted by ${signal}; partial outputs removed`));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const program = createImageBuildProgram({
  version: packageJson.version,
  handlers: {
    async ramdisk(command) {
      const epoch = process.env.SOURCE_DATE_EPOCH;
      if (epoch !== undefined && !/^\d+$/.test(epoch)) throw new UsageError(`SOURCE_DATE_EPOCH=${epoch} is not a whole number of seconds`);
      await buildRamdisk({
        out: command.out,
        cacheDir: command.cache ?? defaultCacheDir(),
        lockPath: command.lock ?? DEFAULT_LOCK,
        compression: command.compress,
        extraModules: command.extraModules,
        append: command.append,
        iso: command.iso,
        sourceDateEpoch: epoch === undefined ? undefined : Number(epoch),
        agentEntry: command.agentEntry ?? DEFAULT_AGENT_ENTRY,
        signal: stop.signal,
      });
    },
    async resolve(command) {
      await resolveLock({ lockPath: command.lock ?? DEFAULT_LOCK, nodeVersion: command.nodeVersion, note: (message) => process.stderr.write(`${message}\n`) });
    },
    async configMedia(command) {
      await runConfigMedia(command, { signal: stop.signal, print: (line) => process.stdout.write(`${line}\n`) });
    },
  },
});

const status = await runProgram(program, process.argv.slice(2), { name: 'image-build' });
process.exitCode = stop.signal.aborted ? EXIT.interrupted : status;
