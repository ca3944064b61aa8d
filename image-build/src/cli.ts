#!/usr/bin/env node
import { buildRamdisk, DEFAULT_AGENT_ENTRY, DEFAULT_LOCK, defaultCacheDir } from './build-ramdisk.ts';
import { parseCliArgs, USAGE, UsageError } from './cli-args.ts';
import { resolveLock } from './resolve.ts';
import { runConfigMediaCli } from './config-media/cli.ts';

async function main(): Promise<void> {
  // `image-build config-media ...`: the per-node virtual-media configuration image.
  if (process.argv[2] === 'config-media') {
    process.exitCode = await runConfigMediaCli(process.argv.slice(3));
    return;
  }
  let command;
  try {
    command = parseCliArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`image-build: ${(error as Error).message}\nRun image-build --help for the options.\n`);
    process.exit(2);
  }
  if (command.command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (command.command === 'resolve') {
    await resolveLock({ lockPath: command.lock ?? DEFAULT_LOCK, nodeVersion: command.nodeVersion, note: (message) => process.stderr.write(`${message}\n`) });
    return;
  }
  const epoch = process.env.SOURCE_DATE_EPOCH;
  if (epoch !== undefined && !/^\d+$/.test(epoch)) throw new UsageError(`SOURCE_DATE_EPOCH=${epoch} is not a number of seconds`);
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
  });
}

main().catch((error: unknown) => {
  const err = error as Error & { cause?: Error };
  process.stderr.write(`image-build: ${err.message}${err.cause ? `\n  cause: ${err.cause.message}` : ''}\n`);
  process.exit(1);
});
