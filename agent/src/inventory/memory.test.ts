import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseMeminfoTotal, parseMemoryBlocks } from './memory.ts';

describe('parseMeminfoTotal', () => {
  it('converts MemTotal of real /proc/meminfo from KiB to bytes', () => {
    const meminfo = readFileSync(new URL('./fixtures/meminfo.txt', import.meta.url), 'utf8');
    expect(parseMeminfoTotal(meminfo)).toBe(24684096 * 1024);
  });

  it('refuses a meminfo without a MemTotal line', () => {
    expect(() => parseMeminfoTotal('MemFree: 12 kB\n')).toThrow(/MemTotal/);
  });
});

describe('parseMemoryBlocks', () => {
  it('multiplies the number of memory blocks by the hexadecimal block size', () => {
    const entries = ['auto_online_blocks', 'block_size_bytes', ...Array.from({ length: 192 }, (_, i) => `memory${i}`)];
    expect(parseMemoryBlocks(entries, '8000000\n')).toBe(24576);
  });

  it('gives null when the block size is unreadable or there are no blocks', () => {
    expect(parseMemoryBlocks(['memory0'], 'nonsense')).toBeNull();
    expect(parseMemoryBlocks(['block_size_bytes'], '8000000')).toBeNull();
  });
});
