import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compress } from 'zstd-napi';
import { createSlotPool } from '../sink/slot-pool.ts';
import { collectingSink } from '../../../../../test/support/collecting-sink.ts';
import { createZstdDecoder } from './zstd-decoder.ts';

const SLOT = 64 * 1024;

/** Feeds `stream` in shared chunks of `size` bytes, as the socket's staging buffers arrive. */
async function feedAll(decoder: ReturnType<typeof createZstdDecoder>, stream: Buffer, size: number): Promise<void> {
  for (let at = 0; at < stream.length; at += size) {
    const chunk = new Uint8Array(new SharedArrayBuffer(Math.min(size, stream.length - at)));
    chunk.set(stream.subarray(at, at + chunk.length));
    await decoder.feed(chunk);
  }
}

/** Half random, half zeros: compresses about 2:1, and the zeros inflate many slots from little input. */
function imageOf(length: number): Buffer {
  const image = Buffer.alloc(length);
  randomBytes(length / 2).copy(image);
  return image;
}

describe('zstd decoder in its worker', () => {
  it('decodes concatenated frames fed in odd-sized chunks into whole slots, in order, and gives every slot back', async () => {
    const pool = createSlotPool(4, SLOT);
    const { sink, bytes, chunks } = collectingSink(pool);
    // Exactly 10 slots: the last call fills its output with nothing left over, the boundary zstd reports late.
    const first = imageOf(6 * SLOT);
    const second = imageOf(4 * SLOT);
    const decoder = createZstdDecoder(sink);
    await feedAll(decoder, Buffer.concat([compress(first), compress(second)]), 777);
    await decoder.end();
    await decoder.close();
    expect(bytes().equals(Buffer.concat([first, second]))).toBe(true);
    expect(chunks.every((chunk) => chunk.length === SLOT)).toBe(true);
    expect(pool.freeCount()).toBe(4);
  });

  it('dispatches a short last slot', async () => {
    const pool = createSlotPool(4, SLOT);
    const { sink, bytes } = collectingSink(pool);
    const image = imageOf(3 * SLOT + 4096);
    const decoder = createZstdDecoder(sink);
    await feedAll(decoder, compress(image), 64 * 1024);
    await decoder.end();
    await decoder.close();
    expect(bytes().equals(image)).toBe(true);
  });

  it('fails a corrupt stream with INGOT_IMAGE_FORMAT', async () => {
    const { sink } = collectingSink(createSlotPool(4, SLOT));
    const stream = compress(imageOf(2 * SLOT));
    stream.fill(0xff, 4, 64);
    const decoder = createZstdDecoder(sink);
    const outcome = feedAll(decoder, stream, 4096).then(() => decoder.end());
    await expect(outcome).rejects.toMatchObject({ code: 'INGOT_IMAGE_FORMAT', message: expect.stringMatching(/zstd stream is corrupt/) });
    await decoder.close();
  });

  it('fails a stream that ends inside a frame', async () => {
    const { sink } = collectingSink(createSlotPool(4, SLOT));
    const stream = compress(imageOf(2 * SLOT));
    const decoder = createZstdDecoder(sink);
    await feedAll(decoder, stream.subarray(0, stream.length - 100), 4096);
    await expect(decoder.end()).rejects.toMatchObject({ code: 'INGOT_IMAGE_FORMAT', message: expect.stringMatching(/ended inside a frame/) });
    await decoder.close();
  });

  it('gives the slots it holds back to the pool only once closed, mid-stream', async () => {
    const pool = createSlotPool(4, SLOT);
    const { sink } = collectingSink(pool);
    const decoder = createZstdDecoder(sink);
    await feedAll(decoder, compress(imageOf(SLOT)).subarray(0, 1000), 1000);
    expect(pool.freeCount()).toBeLessThan(4);
    await decoder.close();
    expect(pool.freeCount()).toBe(4);
    await expect(decoder.feed(new Uint8Array(new SharedArrayBuffer(1)))).rejects.toThrow(/closed/);
  });
});
