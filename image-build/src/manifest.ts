import type { Component } from './components.ts';
import type { LockFile } from './lock-file.ts';

export interface ComponentSize {
  files: number;
  rawBytes: number;
  compressedBytes: number;
}

export interface OutputFile {
  path: string;
  bytes: number;
  sha256: string;
}

export interface Manifest {
  name: 'ingot-ramdisk';
  kernel: { package: string; version: string; release: string };
  node: { package: string; version: string; integrity: string };
  packages: { name: string; version: string }[];
  modules: { shipped: number; early: string[]; late: string[] };
  compression: string;
  sourceDateEpoch: number;
  kernelAppend: string;
  components: Record<Component, ComponentSize>;
  totals: { rawBytes: number; compressedBytes: number };
  outputs: Record<string, OutputFile>;
}

export interface ManifestInputs {
  lock: LockFile;
  moduleLoadOrder: { early: string[]; late: string[] };
  modulesShipped: number;
  compression: string;
  sourceDateEpoch: number;
  kernelAppend: string;
  components: Record<Component, ComponentSize>;
  outputs: Record<string, OutputFile>;
}

/** The manifest: what went in (pinned names and versions), how big each part is, and the digests of what came out. */
export function buildManifest(inputs: ManifestInputs): Manifest {
  const sizes = Object.values(inputs.components);
  return {
    name: 'ingot-ramdisk',
    kernel: { package: inputs.lock.kernel.name, version: inputs.lock.kernel.version, release: inputs.lock.kernel.release },
    node: { package: inputs.lock.node.package, version: inputs.lock.node.version, integrity: inputs.lock.node.integrity },
    packages: inputs.lock.packages.map(({ name, version }) => ({ name, version })).sort((a, b) => a.name.localeCompare(b.name)),
    modules: { shipped: inputs.modulesShipped, early: inputs.moduleLoadOrder.early, late: inputs.moduleLoadOrder.late },
    compression: inputs.compression,
    sourceDateEpoch: inputs.sourceDateEpoch,
    kernelAppend: inputs.kernelAppend,
    components: inputs.components,
    totals: {
      rawBytes: sizes.reduce((sum, size) => sum + size.rawBytes, 0),
      compressedBytes: sizes.reduce((sum, size) => sum + size.compressedBytes, 0),
    },
    outputs: inputs.outputs,
  };
}

/** A human table of the component sizes, largest first. */
export function renderSizeTable(manifest: Manifest): string {
  const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1).padStart(7);
  const rows = Object.entries(manifest.components)
    .sort(([, a], [, b]) => b.compressedBytes - a.compressedBytes)
    .map(([name, size]) => `  ${name.padEnd(14)} ${String(size.files).padStart(5)} ${mib(size.rawBytes)} ${mib(size.compressedBytes)}`);
  return [
    `  ${'component'.padEnd(14)} ${'files'.padStart(5)} ${'raw MiB'.padStart(7)} ${manifest.compression.padStart(7)}`,
    ...rows,
    `  ${'total'.padEnd(14)} ${''.padStart(5)} ${mib(manifest.totals.rawBytes)} ${mib(manifest.totals.compressedBytes)}`,
  ].join('\n');
}
