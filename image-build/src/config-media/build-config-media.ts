import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { renderParameters } from './parameters.ts';

const run = promisify(execFile);

/**
 * A per-node configuration image for DHCP-less virtual-media boot: the
 * conductor URL, a pre-set token, the CA to trust and the network, where the
 * agent looks for them (reference 10.3, agent/src/vmedia). An ISO is labelled
 * `config-2` as Ironic's are; a vfat image gets `CONFIG-2`, because mkfs.fat
 * upper-cases labels (the agent matches both).
 */
export interface ConfigMediaOptions {
  out: string;
  format: 'iso' | 'vfat';
  /** Conductor API URL(s): becomes ipa-api-url. */
  apiUrl: string | string[];
  /** Pre-set agent token (at least 32 characters), as Ironic pregenerates for virtual media. */
  agentToken?: string;
  /** CA (PEM) the agent trusts for the conductor: etc/ironic-python-agent/ironic.crt. */
  caPem?: string;
  /** OpenStack network_data.json (an object); without it the agent runs DHCP. */
  networkData?: Record<string, unknown>;
  /** More ipa-* / ingot-* parameters; they win over the ones above. */
  extraParameters?: Record<string, string>;
  /** Fixed time for every file (seconds since the epoch); default SOURCE_DATE_EPOCH, else 1980-01-01 (FAT stores nothing earlier). */
  sourceDateEpoch?: number;
  /** Stops the tools (Ctrl-C); the staging copy, which holds the token, and the half-written image are removed. */
  signal?: AbortSignal;
}

/** The paths inside the image; the agent reads exactly these. */
export const configMediaPaths = {
  networkData: 'openstack/latest/network_data.json',
  ca: 'etc/ironic-python-agent/ironic.crt',
  parameters: 'etc/ingot/parameters.txt',
} as const;

/** Small enough for any BMC's virtual floppy or USB slot; the content is a few KiB. */
const VFAT_SIZE_KIB = 2048;
/** 1980-01-01T00:00:00Z: the earliest time a FAT directory entry can hold. */
const FAT_EPOCH = 315532800;

export async function buildConfigMedia(options: ConfigMediaOptions): Promise<{ out: string; bytes: number; files: string[] }> {
  const files = renderConfigFiles(options);
  const epoch = options.sourceDateEpoch ?? Number(process.env.SOURCE_DATE_EPOCH ?? FAT_EPOCH);
  const staging = await mkdtemp(join(tmpdir(), 'ingot-config-media-'));
  const { signal } = options;
  let started = false;
  try {
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(staging, path)), { recursive: true });
      await writeFile(join(staging, path), content, { mode: path === configMediaPaths.parameters ? 0o600 : 0o644 });
    }
    await fixTimes(staging, Object.keys(files), epoch);
    await mkdir(dirname(options.out), { recursive: true });
    signal?.throwIfAborted();
    await rm(options.out, { force: true });
    started = true;
    if (options.format === 'iso') await buildIso(staging, options.out, epoch, signal);
    else await buildVfat(staging, options.out, Object.keys(files), epoch, signal);
    signal?.throwIfAborted();
    return { out: options.out, bytes: (await stat(options.out)).size, files: Object.keys(files).sort() };
  } catch (error) {
    // A half-built image looks like a whole one to a BMC: none is better.
    if (started) await rm(options.out, { force: true });
    throw error;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** The files of the image, by path: pure, so it is tested without any tool. */
export function renderConfigFiles(options: Omit<ConfigMediaOptions, 'out' | 'format'>): Record<string, string> {
  const urls = Array.isArray(options.apiUrl) ? options.apiUrl : [options.apiUrl];
  if (urls.length === 0 || urls.some((url) => !/^https?:\/\/\S+$/.test(url))) throw new Error(`apiUrl must be http(s) URLs, got ${JSON.stringify(options.apiUrl)}`);
  if (options.agentToken !== undefined && (options.agentToken.length < 32 || /\s/.test(options.agentToken))) {
    throw new Error('agentToken must be at least 32 characters without whitespace (the agent ignores shorter ones)');
  }
  if (options.caPem !== undefined && !options.caPem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('caPem holds no PEM certificate');
  const params: Record<string, string> = {
    'ipa-api-url': urls.join(','),
    ...(options.agentToken ? { 'ipa-agent-token': options.agentToken } : {}),
    ...options.extraParameters,
  };
  const files: Record<string, string> = {
    [configMediaPaths.parameters]: renderParameters(params, 'Ingot agent parameters (ipa-* as on the kernel command line); merged over it at boot'),
  };
  if (options.networkData) files[configMediaPaths.networkData] = `${JSON.stringify(options.networkData, null, 2)}\n`;
  if (options.caPem) files[configMediaPaths.ca] = options.caPem.endsWith('\n') ? options.caPem : `${options.caPem}\n`;
  return files;
}

async function fixTimes(root: string, files: string[], epoch: number): Promise<void> {
  const paths = new Set<string>([root]);
  for (const file of files) {
    paths.add(join(root, file));
    for (let dir = dirname(join(root, file)); dir.startsWith(root) && dir !== root; dir = dirname(dir)) paths.add(dir);
  }
  for (const path of paths) await utimes(path, epoch, epoch);
}

async function buildIso(staging: string, out: string, epoch: number, signal: AbortSignal | undefined): Promise<void> {
  // xorriso (>= 1.5) takes every volume date, the volume uuid and all file dates from SOURCE_DATE_EPOCH.
  await tool('xorriso', ['-as', 'mkisofs', '-quiet', '-V', 'config-2', '-J', '-R', '-o', out, staging], { SOURCE_DATE_EPOCH: String(epoch) }, signal);
}

async function buildVfat(staging: string, out: string, files: string[], epoch: number, signal: AbortSignal | undefined): Promise<void> {
  // A fixed volume id instead of a random one; mtools takes file times from the staging copy (-m).
  const volumeId = (epoch >>> 0).toString(16).padStart(8, '0');
  await tool('mkfs.vfat', ['-C', '-n', 'CONFIG-2', '-i', volumeId, out, String(VFAT_SIZE_KIB)], { SOURCE_DATE_EPOCH: String(epoch) }, signal);
  const dirs = [...new Set(files.flatMap((file) => {
    const parts = file.split('/').slice(0, -1);
    return parts.map((_, index) => parts.slice(0, index + 1).join('/'));
  }))].sort();
  const env = { MTOOLS_SKIP_CHECK: '1', SOURCE_DATE_EPOCH: String(epoch), TZ: 'UTC' };
  for (const dir of dirs) await tool('mmd', ['-i', out, `::/${dir}`], env, signal);
  for (const file of [...files].sort()) await tool('mcopy', ['-m', '-i', out, join(staging, file), `::/${file}`], env, signal);
}

async function tool(file: string, args: string[], env: Record<string, string>, signal: AbortSignal | undefined): Promise<void> {
  try {
    await run(file, args, { env: { ...process.env, LC_ALL: 'C', ...env }, timeout: 60_000, signal });
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    const failure = error as NodeJS.ErrnoException & { stderr?: string };
    const hint = failure.code === 'ENOENT' ? ` (is it installed? apt-get install ${file === 'xorriso' ? 'xorriso' : file === 'mkfs.vfat' ? 'dosfstools' : 'mtools'})` : '';
    throw new Error(`${file} ${args.join(' ')} failed${hint}: ${(failure.stderr ?? failure.message).trim()}`, { cause: error });
  }
}
