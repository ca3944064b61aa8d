import { describe, expect, it } from 'vitest';
import { createFakeSystem } from '../testing.ts';
import type { OpenDiskOptions, OpenFile } from '../system/system.ts';
import { openDiskReader, READ_CHUNK_BYTES } from './read-disk.ts';

const MiB = 1024 * 1024;

/** A disk in memory that records every read and open, and fails with `errno` at `badOffset`. */
function diskSystem(bytes: Uint8Array, options: { badOffset?: number; errno?: string } = {}) {
  const reads: number[] = [];
  const opens: OpenDiskOptions[] = [];
  const fail = (position: number, length: number) => {
    if (options.badOffset !== undefined && position <= options.badOffset && options.badOffset < position + length) {
      throw Object.assign(new Error(`${options.errno}: i/o error, read`), { code: options.errno });
    }
  };
  const file: OpenFile = {
    path: '/dev/sdz', isBlockDevice: true, isFile: false,
    writeAt: async () => { throw new Error('the capture wrote'); },
    writeAtSync: () => { throw new Error('the capture wrote'); },
    readAtSync: (into) => into.byteLength,
    async readAt(into, position) {
      fail(position, into.byteLength);
      reads.push(position);
      const piece = bytes.subarray(position, position + into.byteLength);
      into.set(piece);
      return piece.byteLength;
    },
    sync: async () => undefined,
    truncate: async () => { throw new Error('the capture truncated'); },
    stillPresent: async () => true,
    close: async () => undefined,
  };
  const system = { ...createFakeSystem(), openDisk: async (_path: string, open: OpenDiskOptions = {}) => { opens.push(open); return file; } };
  return { system, reads, opens };
}

async function collect(iterable: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of iterable) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

describe('openDiskReader', () => {
  it('opens read-only with O_DIRECT and gives the disk back in order', async () => {
    const disk = Uint8Array.from({ length: 9 * MiB }, (_, i) => (i * 7) & 0xff);
    const { system, opens } = diskSystem(disk);
    const reader = await openDiskReader(system, '/dev/sdz');
    expect(opens).toEqual([{ direct: true }]);
    expect((await collect(reader.chunks([{ start: 0, end: disk.length, read: true }]))).equals(disk)).toBe(true);
  });

  it('never reads a zero span', async () => {
    const disk = new Uint8Array(12 * MiB).fill(0xaa);
    const { system, reads } = diskSystem(disk);
    const reader = await openDiskReader(system, '/dev/sdz');
    const out = await collect(reader.chunks([{ start: 0, end: MiB, read: true }, { start: MiB, end: 11 * MiB, read: false }, { start: 11 * MiB, end: 12 * MiB, read: true }]));
    expect(reads).toEqual([0, 11 * MiB]);
    expect(out.length).toBe(12 * MiB);
    expect(out.subarray(MiB, 11 * MiB).every((b) => b === 0)).toBe(true);
    expect(out.subarray(11 * MiB).every((b) => b === 0xaa)).toBe(true);
  });

  it('turns a read error into INGOT_SNAPSHOT_READ naming the device, the offset and the errno', async () => {
    const { system } = diskSystem(new Uint8Array(16 * MiB), { badOffset: 8 * MiB + 5000, errno: 'EIO' });
    const reader = await openDiskReader(system, '/dev/sdz');
    const failure = await collect(reader.chunks([{ start: 0, end: 16 * MiB, read: true }])).catch((error: unknown) => error as Error & { code?: string });
    expect(failure).toMatchObject({ code: 'INGOT_SNAPSHOT_READ' });
    // The 4 MiB read failed; the block-by-block re-read names the first bad 4 KiB block.
    expect(8 * MiB + 4096).toBe(2 * READ_CHUNK_BYTES + 4096);
    expect((failure as Error).message).toMatch(/reading \/dev\/sdz at byte 8392704 failed with EIO \(EIO: i\/o error, read\); the disk may be failing: check the kernel log/);
  });

  it('stops when the signal is aborted', async () => {
    const { system } = diskSystem(new Uint8Array(16 * MiB));
    const reader = await openDiskReader(system, '/dev/sdz');
    const aborter = new AbortController();
    aborter.abort(new Error('stop'));
    await expect(collect(reader.chunks([{ start: 0, end: 16 * MiB, read: true }], aborter.signal))).rejects.toThrow('stop');
  });
});
