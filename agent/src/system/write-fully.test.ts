import { describe, expect, it } from 'vitest';
import { writeFully, writeFullySync } from './write-fully.ts';

/** A file that takes at most `most` bytes per write, as a device under a signal or quota may. */
function stingyFile(size: number, most: number) {
  const bytes = new Uint8Array(size);
  const write = (data: Uint8Array, offset: number, length: number, position: number) => {
    const taken = Math.min(most, length);
    bytes.set(data.subarray(offset, offset + taken), position);
    return taken;
  };
  return { bytes, write };
}

describe('writeFully', () => {
  it('carries on after short writes, each at the right offset, until every byte is written', async () => {
    const file = stingyFile(32, 3);
    const data = Uint8Array.from({ length: 10 }, (_, i) => i + 1);
    await writeFully(async (...args) => ({ bytesWritten: file.write(...args) }), data, 5);
    expect([...file.bytes.subarray(5, 15)]).toEqual([...data]);
    expect(file.bytes[4]).toBe(0);
    expect(file.bytes[15]).toBe(0);
    const again = stingyFile(32, 4);
    writeFullySync(again.write, data, 20);
    expect([...again.bytes.subarray(20, 30)]).toEqual([...data]);
  });

  it('fails on a write that takes nothing instead of trying forever', async () => {
    await expect(writeFully(async () => ({ bytesWritten: 0 }), new Uint8Array(4), 4096)).rejects.toThrow(/short write at offset 4096/);
    expect(() => writeFullySync(() => 0, new Uint8Array(4), 0)).toThrow(/short write/);
  });
});
