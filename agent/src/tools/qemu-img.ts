/**
 * qemu-img: inspects a qcow2 image and converts it to raw bytes on a disk.
 * qcow2 needs random access (its L1/L2 tables point anywhere in the file), so
 * it cannot be streamed; the agent stages the verified file and lets
 * qemu-img write it (ipa-protocol.md 9.5).
 */

/**
 * `-f qcow2` pins the format (no probing of what the bytes claim), and info
 * never opens a backing file, so inspecting a hostile image reads nothing but
 * the image itself. `--output=json` is the stable, parseable form.
 */
export function qemuImgInfoArgv(image: string): string[] {
  return ['qemu-img', 'info', '-f', 'qcow2', '--output=json', image];
}

/**
 * Converts onto an existing target:
 * - `-n` never creates or truncates the target (a disk file keeps its size);
 * - `-t none` writes a block device with O_DIRECT, as the streaming writer
 *   does (perf-limits.md 3); a regular file (sandbox disks, possibly on
 *   tmpfs, which refuses O_DIRECT) is written through the page cache, and
 *   qemu-img flushes it before it exits;
 * - `-W` lets clusters be written out of order, the fast path for compressed
 *   clusters;
 * - `-p` prints `(NN.NN/100%)` progress, parsed by parseQemuImgProgress.
 * Zero clusters are written as zeros (write-zeroes), since with `-n` the
 * target is not known to read back zeros.
 */
export function qemuImgConvertArgv(image: string, target: string, options: { targetIsBlockDevice: boolean }): string[] {
  return ['qemu-img', 'convert', '-p', '-W', '-f', 'qcow2', '-O', 'raw', '-t', options.targetIsBlockDevice ? 'none' : 'writeback', '-n', image, target];
}

export interface QemuImgInfo {
  format: string;
  virtualSize: number;
  /** A backing file the image would read its unallocated clusters from, if any. */
  backingFile: string | null;
  /** qcow2 external data file (the clusters live in another file), if any. */
  dataFile: string | null;
  /** qcow2 marked corrupt by QEMU. */
  corrupt: boolean;
}

/** Parses `qemu-img info --output=json`; throws on output that does not say a format and a virtual size. */
export function parseQemuImgInfo(stdout: string): QemuImgInfo {
  const parsed: unknown = JSON.parse(stdout);
  const record = parsed !== null && typeof parsed === 'object' ? parsed as Record<string, unknown> : {};
  const virtualSize = record['virtual-size'];
  if (typeof record.format !== 'string' || typeof virtualSize !== 'number' || !Number.isSafeInteger(virtualSize) || virtualSize < 0) {
    throw new Error('qemu-img info output has no "format" and "virtual-size"');
  }
  const specific = record['format-specific'] as { data?: Record<string, unknown> } | undefined;
  const data = specific?.data ?? {};
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);
  return {
    format: record.format,
    virtualSize,
    backingFile: text(record['full-backing-filename']) ?? text(record['backing-filename']),
    dataFile: text(data['data-file']),
    corrupt: data.corrupt === true,
  };
}

/** The last `(NN.NN/100%)` in qemu-img's `-p` output (carriage-return separated), as a fraction 0..1. */
export function parseQemuImgProgress(output: string): number | undefined {
  const matches = [...output.matchAll(/\((\d{1,3}(?:\.\d+)?)\/100%\)/g)];
  const last = matches.at(-1);
  return last ? Math.min(1, Number(last[1]) / 100) : undefined;
}
