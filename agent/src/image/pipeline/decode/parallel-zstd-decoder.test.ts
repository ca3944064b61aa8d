import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Compressor } from 'zstd-napi';
import { createSlotPool } from '../sink/slot-pool.ts';
import { collectingSink } from '../../../../../test/support/collecting-sink.ts';
import type { Decoder } from './decoders.ts';
import { createParallelZstdDecoder, suitsParallelDecode } from './parallel-zstd-decoder.ts';

const SLOT = 64 * 1024;

async function feedAll(decoder: Decoder, stream: Uint8Array, size: number): Promise<void> {
  for (let at = 0; at < stream.length; at += size) {
    const chunk = new Uint8Array(new SharedArrayBuffer(Math.min(size, stream.length - at)));
    chunk.set(stream.subarray(at, at + chunk.length));
    await decoder.feed(chunk);
  }
}

function frameOf(content: Uint8Array, options: { checksum?: boolean; size?: boolean } = {}): Buffer {
  const compressor = new Compressor();
  compressor.setParameters({ compressionLevel: 3, checksumFlag: options.checksum ?? true, contentSizeFlag: options.size ?? true });
  return compressor.compress(content);
}

/** Frame contents of `SLOT` bytes each: a quarter random, the rest zeros. */
function contents(count: number, length = SLOT): Buffer[] {
  return Array.from({ length: count }, (_, i) => {
    const c = Buffer.alloc(length, i % 3 === 0 ? 0 : i);
    randomBytes(length / 4).copy(c);
    return c;
  });
}

function skippable(payload: number): Buffer {
  const out = Buffer.alloc(8 + payload, 0x33);
  out.writeUInt32LE(0x184d2a5e, 0);
  out.writeUInt32LE(payload, 4);
  return out;
}

describe('parallel zstd decoder', () => {
  it('decodes many frames on two threads into the sink in stream order, skipping skippable frames, and gives every slot back', async () => {
    const pool = createSlotPool(6, SLOT);
    const { sink, bytes } = collectingSink(pool);
    const parts = [...contents(23), Buffer.alloc(1000, 7)];
    const stream = Buffer.concat([skippable(4), ...parts.map((p) => frameOf(p)), skippable(100)]);
    const decoder = createParallelZstdDecoder(sink, { workers: 2, slotBytes: SLOT });
    await feedAll(decoder, stream, 7777);
    await decoder.end();
    await decoder.close();
    expect(bytes().equals(Buffer.concat(parts))).toBe(true);
    expect(pool.freeCount()).toBe(6);
  });

  it('decodes frames of several slots and frames without checksums', async () => {
    const pool = createSlotPool(6, SLOT);
    const { sink, bytes } = collectingSink(pool);
    const parts = contents(7, 3 * SLOT);
    const stream = Buffer.concat(parts.map((p, i) => frameOf(p, { checksum: i % 2 === 0 })));
    const decoder = createParallelZstdDecoder(sink, { workers: 3, slotBytes: SLOT });
    await feedAll(decoder, stream, 100_000);
    await decoder.end();
    await decoder.close();
    expect(bytes().equals(Buffer.concat(parts))).toBe(true);
  });

  it('fails on a corrupt middle frame naming it and its offset, having passed on only the frames before it', async () => {
    const pool = createSlotPool(6, SLOT);
    const { sink, bytes } = collectingSink(pool);
    const parts = contents(12);
    const frames = parts.map((p) => frameOf(p));
    const corrupt = Buffer.from(frames[6]!);
    // A byte inside the compressed content: the checksum or the entropy decoder catches it.
    corrupt[corrupt.length - 9] = corrupt[corrupt.length - 9]! ^ 0x55;
    frames[6] = corrupt;
    const offset = frames.slice(0, 6).reduce((n, f) => n + f.length, 0);
    const decoder = createParallelZstdDecoder(sink, { workers: 2, slotBytes: SLOT });
    const outcome = feedAll(decoder, Buffer.concat(frames), 5000).then(() => decoder.end());
    await expect(outcome).rejects.toMatchObject({ code: 'INGOT_IMAGE_FORMAT', message: expect.stringContaining(`zstd frame 6 (at offset ${offset} of the stream) is corrupt`) });
    await decoder.close();
    expect(Buffer.concat(parts).subarray(0, bytes().length).equals(bytes())).toBe(true);
    expect(bytes().length).toBeLessThanOrEqual(6 * SLOT);
    expect(pool.freeCount()).toBe(6);
  });

  it('refuses a truncated stream and a later frame without a content size', async () => {
    const pool = createSlotPool(6, SLOT);
    const frames = contents(3).map((p) => frameOf(p));
    const truncated = createParallelZstdDecoder(collectingSink(pool).sink, { workers: 2, slotBytes: SLOT });
    await feedAll(truncated, Buffer.concat(frames).subarray(0, frames[0]!.length + 10), 4096);
    await expect(truncated.end()).rejects.toMatchObject({ code: 'INGOT_IMAGE_FORMAT', message: expect.stringContaining('ends inside frame 1') });
    await truncated.close();
    const sizeless = createParallelZstdDecoder(collectingSink(pool).sink, { workers: 2, slotBytes: SLOT });
    await expect(feedAll(sizeless, Buffer.concat([frames[0]!, frameOf(contents(1)[0]!, { size: false })]), 1 << 20)).rejects.toMatchObject({ message: expect.stringContaining('zstd frame 1 (at offset') });
    await sizeless.close();
    expect(pool.freeCount()).toBe(6);
  });

  it('is chosen for a first frame of whole 4 KiB blocks that fits the slots', () => {
    expect(suitsParallelDecode(4n * 1024n * 1024n)).toBe(true);
    expect(suitsParallelDecode(undefined)).toBe(false);
    expect(suitsParallelDecode(4097n)).toBe(false);
    expect(suitsParallelDecode(1n << 40n)).toBe(false);
  });
});
