/**
 * `config-media`: builds a per-node configuration image for DHCP-less
 * virtual-media boot (see build-config-media.ts). To be wired into the
 * image-build CLI as a subcommand; runs alone meanwhile:
 *   node --import tsx image-build/src/config-media/cli.ts --out node1.iso --api-url https://192.0.2.10:6385
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { buildConfigMedia } from './build-config-media.ts';
import { parseStaticNetwork, renderNetworkData } from './static-network.ts';

export const configMediaUsage = `Usage: config-media --out <file> --api-url <url> [options]

Builds a small image the Ingot agent reads at boot instead of DHCP and kernel
parameters: an ISO labelled config-2 (attach as virtual CD) or a vfat image
labelled CONFIG-2 (attach as virtual USB stick or floppy).

  --out <file>            Image to write (.iso, or .img/.vfat for vfat)
  --format iso|vfat       Default: iso, or vfat when --out ends in .img/.vfat
  --api-url <url>         Conductor API URL (repeatable): ipa-api-url
  --token-file <file>     File holding a pre-set agent token (>= 32 chars): ipa-agent-token
  --ca <file>             CA certificate (PEM) the agent trusts for the conductor
  --static <spec>         Static IPv4 for the NIC with that MAC, no DHCP:
                          10.0.2.15/24,gw=10.0.2.2,mac=52:54:00:12:34:56[,dns=10.0.2.3][,mtu=9000]
  --network-data <file>   An OpenStack network_data.json to use as is (instead of --static)
  --param key=value       Any other agent parameter (repeatable), e.g. ipa-lookup-timeout=300
  --help                  Show this help

Dates inside the image come from SOURCE_DATE_EPOCH (default 1980-01-01): the
same inputs give the same bytes. The image holds the token: treat it as a secret.
`;

export async function runConfigMediaCli(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      out: { type: 'string' }, format: { type: 'string' }, 'api-url': { type: 'string', multiple: true },
      'token-file': { type: 'string' }, ca: { type: 'string' }, static: { type: 'string' },
      'network-data': { type: 'string' }, param: { type: 'string', multiple: true }, help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(configMediaUsage);
    return 0;
  }
  if (!values.out || !values['api-url']?.length) throw new Error('--out and --api-url are required');
  if (values.static && values['network-data']) throw new Error('give --static or --network-data, not both');
  const format = values.format ?? (/\.(img|vfat)$/.test(values.out) ? 'vfat' : 'iso');
  if (format !== 'iso' && format !== 'vfat') throw new Error(`--format must be iso or vfat, got "${format}"`);
  const extraParameters = Object.fromEntries((values.param ?? []).map((pair) => {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`--param "${pair}" is not key=value`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  }));
  const result = await buildConfigMedia({
    out: values.out, format, apiUrl: values['api-url'],
    agentToken: values['token-file'] ? (await readFile(values['token-file'], 'utf8')).trim() : undefined,
    caPem: values.ca ? await readFile(values.ca, 'utf8') : undefined,
    networkData: values.static
      ? renderNetworkData(parseStaticNetwork(values.static))
      : values['network-data'] ? JSON.parse(await readFile(values['network-data'], 'utf8')) as Record<string, unknown> : undefined,
    extraParameters,
  });
  process.stdout.write(`${result.out}: ${format}, ${result.bytes} bytes, ${result.files.join(', ')}\n`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runConfigMediaCli(process.argv.slice(2)).then((code) => process.exit(code), (error: unknown) => {
    process.stderr.write(`config-media: ${error instanceof Error ? error.message : String(error)}\nRun with --help for the options.\n`);
    process.exit(2);
  });
}
