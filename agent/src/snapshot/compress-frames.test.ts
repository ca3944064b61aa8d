import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decompress } from 'zstd-napi';
import { isIngotError } from '@ingot/protocol';
import { createZstdDecoder } from '../image/pipeline/decode/zstd-decoder.ts';
import type { ImageSink } from '../image/pipeline/sink/image-sink.ts';
import { createSlotPool } from '../image/pipeline/sink/slot-pool.ts';
import { compressFrames, type CompressFramesOptions } from './compress-frames.ts';
import { frameAt, frameForOffset, parseSeekTable } from './seekable-zstd.ts';

const MiB = 1024 * 1024;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** What a disk holds: text, incompressible data, zeros and repeated patterns, in uneven pieces. */
function mixedDisk(bytes: number): Buffer {
  const disk = Buffer.alloc(bytes);
  let line = 0;
  for (let at = 0, piece = 0; at < bytes; piece++) {
    const length = Math.min(bytes - at, 37_000 + ((piece * 7919) % 300_000));
    const kind = piece % 4;
    if (kind === 0) {
      let text = '';
      while (text.length < length) text += `${line++}: /usr/share/doc/package-${line % 97}/changelog.Debian.gz ok\n`;
      disk.write(text.slice(0, length), at, 'latin1');
    } else if (kind === 1) randomBytes(length).copy(disk, at);
    else if (kind === 3) disk.fill(piece & 0xff, at, at + length);
    at += length; // kind 2: zeros
  }
  return disk;
}

/** Yields `data` in chunks of the given sizes, cycled. */
async function* chunksOf(data: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  for (let at = 0, i = 0; at < data.length; i++) {
    const size = sizes[i % sizes.length]!;
    yield data.subarray(at, at + size);
    at += size;
  }
}

/** Compresses into memory; each chunk copied, since its slot is reused once the write resolved. */
async function compressToBuffer(data: Uint8Array, sizes: number[], options: CompressFramesOptions) {
  const out: Buffer[] = [];
  const result = await compressFrames(chunksOf(data, sizes), async (chunk) => void out.push(Buffer.from(chunk)), options);
  return { result, stream: Buffer.concat(out) };
}

function withTempDir<T>(run: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'ingot-seekable-'));
  try {
    return run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('compressFrames', () => {
  const disk = mixedDisk(24 * MiB + 12_345);

  it('writes a stream the host\'s zstd -d decompresses to the input, with both digests and the sizes right', async () => {
    const { result, stream } = await compressToBuffer(disk, [1 * MiB + 3, 65_536, 5 * MiB], { frameSize: 2 * MiB, workers: 2 });
    expect(result).toEqual({ rawSha256: sha256(disk), compressedSha256: sha256(stream), frames: 13, frameSize: 2 * MiB, rawBytes: disk.length, compressedBytes: stream.length });
    expect(stream.length).toBeLessThan(disk.length * 0.7);
    withTempDir((dir) => {
      writeFileSync(join(dir, 'disk.zst'), stream);
      // zstd skips the seek table (a skippable frame) and checks each frame's checksum.
      const decompressed = execFileSync('zstd', ['-d', '-c', '-q', join(dir, 'disk.zst')], { maxBuffer: 64 * MiB });
      expect(sha256(decompressed)).toBe(result.rawSha256);
      expect(execFileSync('zstd', ['-l', '-v', join(dir, 'disk.zst')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).toMatch(/# Zstandard Frames: 13\n# Skippable Frames: 1\n[\s\S]*Check: XXH64/);
    });
  });

  it('writes frames that decompress one by one where the seek table says, each to its own slice', async () => {
    const { result, stream } = await compressToBuffer(disk, [MiB], { frameSize: 2 * MiB });
    const table = parseSeekTable(stream, { streamBytes: stream.length });
    expect(table.frameCount).toBe(result.frames);
    expect(table.decompressedBytes).toBe(disk.length);
    expect(table.hasChecksums).toBe(true);
    for (let i = 0; i < table.frameCount; i++) {
      const frame = frameAt(table, i);
      expect(frame.decompressedSize).toBe(Math.min(2 * MiB, disk.length - i * 2 * MiB));
      const raw = decompress(stream.subarray(frame.compressedOffset, frame.compressedOffset + frame.compressedSize));
      expect(raw.equals(disk.subarray(frame.decompressedOffset, frame.decompressedOffset + frame.decompressedSize)), `frame ${i}`).toBe(true);
      // The table's checksum is the frame's own (its last 4 bytes), which the decompressor just verified.
      expect(stream.readUInt32LE(frame.compressedOffset + frame.compressedSize - 4)).toBe(frame.checksum);
    }
  });

  it('serves random reads by decompressing only the frame that holds each byte', async () => {
    const { stream } = await compressToBuffer(disk, [3 * MiB], { frameSize: MiB });
    const table = parseSeekTable(stream);
    for (let n = 0; n < 40; n++) {
      const offset = n === 0 ? disk.length - 1 : Math.floor(Math.random() * disk.length);
      const frame = frameForOffset(table, offset)!;
      const raw = decompress(stream.subarray(frame.compressedOffset, frame.compressedOffset + frame.compressedSize));
      expect(raw[offset - frame.decompressedOffset], `byte ${offset}`).toBe(disk[offset]);
    }
    expect(frameForOffset(table, disk.length)).toBeUndefined();
  });

  it('writes the same bytes on one thread as on three, whatever the input\'s chunk sizes', async () => {
    const one = await compressToBuffer(disk, [disk.length], { frameSize: MiB, workers: 1 });
    const three = await compressToBuffer(disk, [1, 4095, 333_333, 2 * MiB + 1], { frameSize: MiB, workers: 3 });
    expect(three.stream.equals(one.stream)).toBe(true);
    expect(three.result).toEqual(one.result);
  });

  it('writes a stream the deploy pipeline\'s zstd decoder reads to the end, skipping the seek table', async () => {
    const { stream } = await compressToBuffer(disk, [MiB], { frameSize: MiB });
    const pool = createSlotPool(6, MiB);
    const out: Buffer[] = [];
    const sink = {
      takeSlot: () => pool.acquire(),
      dispatchSlot: (slot, length) => {
        out.push(Buffer.from(slot.view.subarray(0, length)));
        pool.release(slot);
      },
      releaseSlot: (slot) => pool.release(slot),
      onSpace: (listener) => pool.onRelease(listener),
      onFailure: () => undefined,
    } satisfies Pick<ImageSink, 'takeSlot' | 'dispatchSlot' | 'releaseSlot' | 'onSpace' | 'onFailure'>;
    const decoder = createZstdDecoder(sink as unknown as ImageSink);
    try {
      for (let at = 0; at < stream.length; at += 3 * MiB) {
        const shared = new Uint8Array(new SharedArrayBuffer(Math.min(3 * MiB, stream.length - at)));
        shared.set(stream.subarray(at, at + shared.length));
        await decoder.feed(shared);
      }
      await decoder.end();
    } finally {
      await decoder.close();
    }
    expect(Buffer.concat(out).equals(disk)).toBe(true);
  });

  it('records the checksums zstd\'s own seekable library records for the same frames (fixtures/lines-4096.zst)', async () => {
    let text = '';
    for (let i = 0; text.length < 10_000; i++) text += `line ${i} of the seekable fixture\n`;
    const lines = Buffer.from(text.slice(0, 10_000));
    const reference = parseSeekTable(readFileSync(new URL('./fixtures/lines-4096.zst', import.meta.url)));
    const { result, stream } = await compressToBuffer(lines, [10_000], { frameSize: 4096, workers: 1 });
    const ours = parseSeekTable(stream);
    expect(result.rawSha256).toBe('ac935e6c538a9e218e64a05b87a4b4420e60f5b53eabebaf450f9501c925b959');
    expect([...ours.decompressedOffsets]).toEqual([...reference.decompressedOffsets]);
    expect([...ours.checksums!]).toEqual([...reference.checksums!]);
  });

  it('makes 64 MiB of zeros with a few random blocks cost little more than the random blocks', async () => {
    const sparse = Buffer.alloc(64 * MiB);
    for (const at of [0, 17 * MiB + 4096, 40 * MiB - 100]) randomBytes(4096).copy(sparse, at);
    const { result, stream } = await compressToBuffer(sparse, [MiB], { workers: 2 });
    expect(result.frames).toBe(16);
    // 3 incompressible 4 KiB blocks (one of them split over two frames), and about 150 bytes per 4 MiB of zeros.
    expect(result.compressedBytes).toBeLessThan(3 * 4096 + 16 * 400);
    const table = parseSeekTable(stream);
    const zeroFrame = frameAt(table, 15);
    expect(zeroFrame.compressedSize).toBeLessThan(200);
    expect(decompress(stream.subarray(zeroFrame.compressedOffset, zeroFrame.compressedOffset + zeroFrame.compressedSize)).equals(Buffer.alloc(4 * MiB))).toBe(true);
  });

  it('writes only a seek table for empty input, which zstd -d reads as nothing', async () => {
    const { result, stream } = await compressToBuffer(new Uint8Array(0), [1], { workers: 1 });
    expect(result).toMatchObject({ frames: 0, rawBytes: 0, compressedBytes: 17, rawSha256: sha256(new Uint8Array(0)) });
    expect(parseSeekTable(stream).frameCount).toBe(0);
    withTempDir((dir) => {
      writeFileSync(join(dir, 'empty.zst'), stream);
      expect(execFileSync('zstd', ['-d', '-c', '-q', join(dir, 'empty.zst')]).length).toBe(0);
    });
  });

  it('reads no further ahead than its slots while the sink does not take the output', async () => {
    const frameSize = 256 * 1024;
    let pulled = 0;
    async function* counted(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 64; i++) {
        pulled += 64 * 1024;
        yield disk.subarray(i * 64 * 1024, (i + 1) * 64 * 1024);
      }
    }
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const out: Buffer[] = [];
    const done = compressFrames(counted(), async (chunk) => {
      await gate;
      out.push(Buffer.from(chunk));
    }, { frameSize, workers: 2 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    // 4 slots (2 workers + 2) of 256 KiB, plus the chunk in hand.
    expect(pulled).toBeLessThanOrEqual(4 * frameSize + 64 * 1024);
    expect(pulled).toBeGreaterThanOrEqual(4 * frameSize);
    open();
    const result = await done;
    expect(result.rawBytes).toBe(4 * MiB);
    expect(sha256(Buffer.concat(out))).toBe(result.compressedSha256);
  });

  it('fails with the sink\'s error, stops reading, and writes no seek table after a failed write', async () => {
    let pulled = 0;
    async function* endless(): AsyncGenerator<Uint8Array> {
      for (;;) {
        pulled++;
        yield disk.subarray(0, MiB);
      }
    }
    const writes: number[] = [];
    const refused = new Error('the object store refused segment 3');
    const failing = compressFrames(endless(), async (chunk) => {
      writes.push(chunk.length);
      if (writes.length === 3) throw refused;
    }, { frameSize: MiB, workers: 2 });
    await expect(failing).rejects.toBe(refused);
    expect(writes).toHaveLength(3);
    expect(pulled).toBeLessThan(10);
  });

  it('stops with the abort reason when its signal is aborted', async () => {
    const controller = new AbortController();
    async function* slow(): AsyncGenerator<Uint8Array> {
      for (let i = 0; ; i++) {
        if (i === 5) controller.abort(new Error('the capture was aborted'));
        yield disk.subarray(0, 256 * 1024);
      }
    }
    await expect(compressFrames(slow(), async () => undefined, { frameSize: MiB, signal: controller.signal })).rejects.toThrow('the capture was aborted');
  });

  it('fails with the input\'s own error when reading it fails', async () => {
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield disk.subarray(0, 3 * MiB);
      throw new Error('read error on /dev/sda at 3145728');
    }
    await expect(compressFrames(broken(), async () => undefined, { frameSize: MiB })).rejects.toThrow('read error on /dev/sda at 3145728');
  });

  it('refuses a frame size, level or thread count it cannot use, naming it', async () => {
    for (const [options, mentions] of [
      [{ frameSize: 0 }, /frame size 0/],
      [{ frameSize: 2 ** 30 + 1 }, /1 GiB/],
      [{ level: 23 }, /zstd level 23/],
      [{ level: 2.5 }, /zstd level 2.5/],
      [{ workers: 0 }, /0 compression workers/],
    ] as const) {
      const attempt = compressFrames(chunksOf(disk, [MiB]), async () => undefined, options);
      await expect(attempt).rejects.toSatisfy((error: unknown) => isIngotError(error, 'INGOT_INVALID_PARAMS'));
      await expect(attempt).rejects.toThrow(mentions);
    }
  });
});
