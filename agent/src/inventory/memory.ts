/** The total memory usable by the kernel, in bytes, from /proc/meminfo's `MemTotal` (printed in KiB despite saying kB). */
export function parseMeminfoTotal(meminfo: string): number {
  const match = /^MemTotal:\s+(\d+)\s*kB\s*$/m.exec(meminfo);
  if (!match) throw new Error('/proc/meminfo has no "MemTotal: <n> kB" line');
  return Number(match[1]) * 1024;
}

/**
 * Installed memory in MiB from /sys/devices/system/memory: the number of
 * `memoryN` blocks times `block_size_bytes` (hexadecimal). Offline blocks are
 * still installed, so all blocks count. Null when either part is unusable.
 */
export function parseMemoryBlocks(entries: readonly string[], blockSizeHex: string): number | null {
  const text = blockSizeHex.trim();
  if (!/^(0x)?[0-9a-f]+$/i.test(text)) return null;
  const blockSize = Number.parseInt(text.replace(/^0x/i, ''), 16);
  const blocks = entries.filter((entry) => /^memory\d+$/.test(entry)).length;
  if (blockSize <= 0 || blocks === 0) return null;
  return Math.floor((blocks * blockSize) / (1024 * 1024));
}
