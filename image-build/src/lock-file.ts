/**
 * packages.lock.json: every input of the ramdisk pinned, so that a build does
 * no dependency resolution and the same lock gives the same bytes. Written by
 * `image-build resolve`, read by every `image-build ramdisk`.
 */
export interface LockedDeb {
  name: string;
  version: string;
  architecture: string;
  /** sha256 of the .deb as the archive's index gives it; checked after each download. */
  sha256: string;
  size: number;
}

export interface LockedNode {
  /** The npm package of the official Linux x64 binary. */
  package: string;
  version: string;
  /** `npm view <package>@<version> dist.integrity` (sha512, SRI form). */
  integrity: string;
}

export interface LockFile {
  lockfileVersion: 1;
  /** Default SOURCE_DATE_EPOCH: the time the lock was resolved, so that a new lock moves it. */
  sourceDateEpoch: number;
  kernel: LockedDeb & { release: string };
  packages: LockedDeb[];
  node: LockedNode;
}

export class LockFileError extends Error {
  constructor(message: string) {
    super(`packages.lock.json: ${message}`);
    this.name = 'LockFileError';
  }
}

function checkDeb(value: unknown, where: string): LockedDeb {
  const deb = value as Partial<LockedDeb> | null;
  if (!deb || typeof deb !== 'object') throw new LockFileError(`${where} is not an object`);
  for (const key of ['name', 'version', 'architecture', 'sha256'] as const) {
    if (typeof deb[key] !== 'string' || deb[key] === '') throw new LockFileError(`${where}.${key} must be a non-empty string`);
  }
  if (!/^[0-9a-f]{64}$/.test(deb.sha256 ?? '')) throw new LockFileError(`${where}.sha256 is not a sha256 hex digest`);
  if (typeof deb.size !== 'number') throw new LockFileError(`${where}.size must be a number`);
  return deb as LockedDeb;
}

/** Parses and checks a lock file's text. */
export function parseLockFile(text: string): LockFile {
  let data: Partial<LockFile>;
  try {
    data = JSON.parse(text) as Partial<LockFile>;
  } catch (error) {
    throw new LockFileError(`not JSON (${(error as Error).message})`);
  }
  if (data.lockfileVersion !== 1) throw new LockFileError(`unsupported lockfileVersion ${String(data.lockfileVersion)}`);
  if (!Number.isInteger(data.sourceDateEpoch) || (data.sourceDateEpoch ?? -1) < 0) throw new LockFileError('sourceDateEpoch must be a non-negative integer');
  const kernel = checkDeb(data.kernel, 'kernel') as LockFile['kernel'];
  if (typeof kernel.release !== 'string' || !/^\d+\.\d+/.test(kernel.release)) throw new LockFileError('kernel.release must be a kernel release such as 6.1.0-56-amd64');
  if (!Array.isArray(data.packages) || data.packages.length === 0) throw new LockFileError('packages must be a non-empty array');
  const packages = data.packages.map((deb, index) => checkDeb(deb, `packages[${index}]`));
  const names = new Set<string>();
  for (const deb of packages) {
    if (names.has(deb.name)) throw new LockFileError(`package ${deb.name} is listed twice`);
    names.add(deb.name);
  }
  const node = data.node;
  if (!node || typeof node.package !== 'string' || !/^\d+\.\d+\.\d+$/.test(node.version ?? '') || !/^sha512-/.test(node.integrity ?? '')) {
    throw new LockFileError('node must give package, an exact version (x.y.z) and a sha512 integrity');
  }
  return { lockfileVersion: 1, sourceDateEpoch: data.sourceDateEpoch as number, kernel, packages, node };
}

/** Stable text: sorted packages, two-space JSON, final newline (diffs stay small). */
export function renderLockFile(lock: LockFile): string {
  const packages = [...lock.packages].sort((a, b) => a.name.localeCompare(b.name));
  return `${JSON.stringify({ ...lock, packages }, null, 2)}\n`;
}
