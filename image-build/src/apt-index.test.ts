import { describe, expect, it } from 'vitest';
import { closeDependencies, parseAptDepends, parseAptShow } from './apt-index.ts';

const depends = `util-linux
  PreDepends: libc6
  PreDepends: libsystemd0
    libelogind0
  Depends: util-linux-extra
libc6
  Depends: libgcc-s1
libgcc-s1
  Depends: gcc-12-base
  Depends: libc6
libsystemd0
  |Depends: libnotreal
  Depends: libcap2
libcap2
  Depends: libc6
util-linux-extra
  Depends: libc6
<libnotreal>
gcc-12-base
`;

describe('parseAptDepends and closeDependencies', () => {
  it('follows library packages only and picks the first installable alternative', () => {
    const graph = parseAptDepends(depends);
    expect(graph.get('libnotreal')?.virtual).toBe(true);
    const closure = closeDependencies(graph, ['util-linux'], (name) => name.startsWith('lib'));
    expect(closure).toEqual(['libc6', 'libcap2', 'libgcc-s1', 'libsystemd0', 'util-linux']);
  });

  it('fails naming the root that nothing installable provides', () => {
    expect(() => closeDependencies(parseAptDepends(depends), ['libnotreal'], () => true)).toThrow(/libnotreal/);
  });
});

describe('parseAptShow', () => {
  it('reads name, version, architecture, digest and size of each stanza', () => {
    const records = parseAptShow(`Package: busybox\nVersion: 1:1.35.0-4+b3\nArchitecture: amd64\nSize: 431\nSHA256: ${'c'.repeat(64)}\nDescription: Tiny utilities\n more text\n\nPackage: mdadm\nVersion: 4.2-5\nArchitecture: amd64\nSize: 9\nSHA256: ${'d'.repeat(64)}\n`);
    expect(records.map(({ name, version, size }) => ({ name, version, size }))).toEqual([
      { name: 'busybox', version: '1:1.35.0-4+b3', size: 431 },
      { name: 'mdadm', version: '4.2-5', size: 9 },
    ]);
  });
});
