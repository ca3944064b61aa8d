/**
 * `image-build config-media`: builds a per-node configuration image for
 * DHCP-less virtual-media boot (see build-config-media.ts):
 *   image-build config-media --out node1.iso --api-url https://192.0.2.10:6385
 */
import { readFile } from 'node:fs/promises';
import { addSubcommand, Option, oneOf, UsageError, valueParser, type Command } from '@ingot/protocol/cli';
import { buildConfigMedia } from './build-config-media.ts';
import { parseStaticNetwork, renderNetworkData, type StaticNetwork } from './static-network.ts';

export interface ConfigMediaCommand {
  out: string;
  format?: 'iso' | 'vfat';
  apiUrl: string[];
  tokenFile?: string;
  ca?: string;
  static?: StaticNetwork;
  networkData?: string;
  param: Record<string, string>;
}

const description = `Builds a small image the Ingot agent reads at boot instead of DHCP and kernel parameters: an ISO labelled config-2 (attach as virtual CD) or a vfat image labelled CONFIG-2 (attach as virtual USB stick or floppy).

Dates inside the image come from SOURCE_DATE_EPOCH (default 1980-01-01): the same inputs give the same bytes. The image holds the token: treat it as a secret.`;

const after = `
Example:
  image-build config-media --out node1.iso --api-url https://192.0.2.10:6385 \\
    --static 10.0.2.15/24,gw=10.0.2.2,mac=52:54:00:12:34:56,dns=10.0.2.3`;

/** A file or directory name: an empty one would be the current directory to path.resolve (fuzz finding: `ramdisk --out ''`). */
export const pathValue = valueParser((value) => {
  if (value.trim() === '') throw new Error('expected a path, got an empty value');
  return value;
});

const apiUrl = valueParser((value) => {
  if (!/^https?:\/\/\S+$/.test(value)) throw new Error(`expected an http(s) URL, got "${value}"`);
  return value;
});

const staticNetwork = valueParser((spec) => {
  try {
    return parseStaticNetwork(spec);
  } catch (error) {
    // parseStaticNetwork names the flag and the spec itself; commander's line already does.
    throw new Error((error as Error).message.replace(`--static "${spec}": `, ''));
  }
});

const parameter = valueParser((pair) => {
  const at = pair.indexOf('=');
  if (at <= 0) throw new Error(`expected key=value, got "${pair}"`);
  return [pair.slice(0, at), pair.slice(at + 1)] as const;
});

export function addConfigMediaCommand(parent: Command, run: (command: ConfigMediaCommand) => Promise<void>): Command {
  return addSubcommand(parent, 'config-media', 'a per-node configuration image (ISO or vfat) for DHCP-less virtual-media boot', description)
    .addOption(new Option('--out <file>', 'image to write (.iso, or .img/.vfat for vfat)').makeOptionMandatory().argParser(pathValue))
    .addOption(new Option('--format <format>', 'iso or vfat (default: iso, or vfat when --out ends in .img/.vfat)').argParser(oneOf(['iso', 'vfat'] as const)))
    .addOption(new Option('--api-url <url>', 'conductor API URL (repeatable): ipa-api-url').makeOptionMandatory()
      .argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), apiUrl(value)]))
    .addOption(new Option('--token-file <file>', 'file holding a pre-set agent token (32 characters or more): ipa-agent-token').argParser(pathValue))
    .addOption(new Option('--ca <file>', 'CA certificate (PEM) the agent trusts for the conductor').argParser(pathValue))
    .addOption(new Option('--static <spec>', 'static IPv4 for the NIC with that MAC, no DHCP: 10.0.2.15/24,gw=10.0.2.2,mac=52:54:00:12:34:56[,dns=10.0.2.3][,mtu=9000]')
      .argParser(staticNetwork).conflicts('networkData'))
    .addOption(new Option('--network-data <file>', 'an OpenStack network_data.json to use as is (instead of --static)').argParser(pathValue))
    .addOption(new Option('--param <key=value>', 'any other agent parameter (repeatable), e.g. ipa-lookup-timeout=300')
      .argParser((pair: string, previous: Record<string, string> | undefined) => {
        const [key, value] = parameter(pair);
        return { ...previous, [key]: value };
      }))
    .addHelpText('after', after)
    .action(async (values: Omit<ConfigMediaCommand, 'param'> & { param?: Record<string, string> }) => run({ ...values, param: values.param ?? {} }));
}

/** Reads the files the command names (a missing one is a usage error) and builds the image; `signal` stops the tools and removes what was half-written. */
export async function runConfigMedia(command: ConfigMediaCommand, options: { signal?: AbortSignal; print: (line: string) => void }): Promise<void> {
  const format = command.format ?? (/\.(img|vfat)$/.test(command.out) ? 'vfat' : 'iso');
  const token = command.tokenFile === undefined ? undefined : (await readNamedFile('--token-file', command.tokenFile)).trim();
  const caPem = command.ca === undefined ? undefined : await readNamedFile('--ca', command.ca);
  let networkData: Record<string, unknown> | undefined;
  if (command.static) networkData = renderNetworkData(command.static);
  else if (command.networkData !== undefined) {
    const text = await readNamedFile('--network-data', command.networkData);
    try {
      networkData = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new UsageError(`--network-data ${command.networkData}: not JSON (${(error as Error).message})`);
    }
  }
  if (token !== undefined && (token.length < 32 || /\s/.test(token))) {
    throw new UsageError(`--token-file ${command.tokenFile}: the token must be 32 characters or more without whitespace (the agent ignores a shorter one)`);
  }
  if (caPem !== undefined && !caPem.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--ca ${command.ca}: holds no PEM certificate`);
  const result = await buildConfigMedia({ out: command.out, format, apiUrl: command.apiUrl, agentToken: token, caPem, networkData, extraParameters: command.param, signal: options.signal });
  options.print(`${result.out}: ${format}, ${result.bytes} bytes, ${result.files.join(', ')}`);
}

async function readNamedFile(flag: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`${flag} ${path}: ${code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? (error as Error).message})`}`);
  }
}
