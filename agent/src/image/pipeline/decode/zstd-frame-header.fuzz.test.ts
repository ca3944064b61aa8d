import fc from 'fast-check';
import { expect, it } from 'vitest';
import { Compressor, compress } from 'zstd-napi';
import { fuzz } from '../../../../../test/support/fuzz.ts';
import { readZstdContentSize, ZSTD_MAX_FRAME_HEADER_BYTES } from './zstd-frame-header.ts';

const MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** A frame header written from RFC 8878 3.1.1.1, independently of the reader: each field as the RFC lays it out. */
function encodeHeader(h: { singleSegment: boolean; dictionaryFlag: number; checksum: boolean; size: bigint | undefined; windowByte: number; dictionaryId: number }): Uint8Array {
  let sizeFlag = 0;
  let sizeBytes = 0;
  if (h.size !== undefined) {
    if (h.singleSegment && h.size < 256n) [sizeFlag, sizeBytes] = [0, 1];
    else if (h.size >= 256n && h.size < 256n + 65536n) [sizeFlag, sizeBytes] = [1, 2];
    else if (h.size < 2n ** 32n) [sizeFlag, sizeBytes] = [2, 4];
    else [sizeFlag, sizeBytes] = [3, 8];
  }
  const descriptor = (sizeFlag << 6) | (h.singleSegment ? 0x20 : 0) | (h.checksum ? 0x04 : 0) | h.dictionaryFlag;
  const out = [...MAGIC, descriptor];
  if (!h.singleSegment) out.push(h.windowByte);
  const dictionaryBytes = [0, 1, 2, 4][h.dictionaryFlag]!;
  for (let i = 0; i < dictionaryBytes; i++) out.push((h.dictionaryId >>> (8 * i)) & 0xff);
  let value = h.size === undefined ? 0n : sizeBytes === 2 ? h.size - 256n : h.size;
  for (let i = 0; i < sizeBytes; i++) {
    out.push(Number(value & 0xffn));
    value >>= 8n;
  }
  return Uint8Array.from(out);
}

const header = fc.record({
  singleSegment: fc.boolean(),
  dictionaryFlag: fc.integer({ min: 0, max: 3 }),
  checksum: fc.boolean(),
  size: fc.option(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { nil: undefined }),
  windowByte: fc.integer({ min: 0, max: 255 }),
  dictionaryId: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
}).filter((h) => !(h.singleSegment && h.size === undefined)); // a single-segment frame always records its size

it('reads back the content size of any header written after the RFC, and waits for the bytes it lacks', async () => {
  await fuzz('readZstdContentSize on headers encoded from RFC 8878', 1_500, fc.property(header, fc.uint8Array({ maxLength: 64 }), (h, rest) => {
    const encoded = encodeHeader(h);
    const whole = readZstdContentSize(Uint8Array.from([...encoded, ...rest]));
    if (h.size === undefined) expect(whole).toEqual({ state: 'absent' });
    else expect(whole).toEqual({ state: 'known', bytes: h.size });
    // Any prefix short of the size field asks for more bytes, never guesses.
    for (let cut = 0; cut < encoded.length; cut++) {
      const partial = readZstdContentSize(encoded.subarray(0, cut));
      if (h.size !== undefined) expect(partial, `cut at ${cut}`).toEqual({ state: 'incomplete' });
      else expect(['incomplete', 'absent']).toContain(partial.state);
    }
  }));
});

it('never throws on any bytes, and asks for more only within the longest header', async () => {
  await fuzz('readZstdContentSize on any bytes', 1_500, fc.property(
    fc.oneof(fc.uint8Array({ maxLength: 32 }), fc.uint8Array({ maxLength: 28 }).map((tail) => Uint8Array.from([...MAGIC, ...tail]))),
    (bytes) => {
      const result = readZstdContentSize(bytes);
      if (result.state === 'incomplete') expect(bytes.length).toBeLessThan(ZSTD_MAX_FRAME_HEADER_BYTES);
      if (result.state === 'known') expect(result.bytes).toBeGreaterThanOrEqual(0n);
      if (bytes.length >= 4 && MAGIC.some((byte, i) => bytes[i] !== byte)) expect(result.state).toBe('not-a-frame');
    },
  ));
});

it('reads the size zstd itself records, and finds none in a streamed frame', async () => {
  await fuzz('readZstdContentSize on frames made by libzstd', 100, fc.property(
    fc.integer({ min: 0, max: 150_000 }), fc.integer({ min: 1, max: 19 }), fc.boolean(),
    (length, level, checksum) => {
      const input = Buffer.alloc(length, length % 251);
      const oneShot = new Compressor();
      oneShot.setParameters({ compressionLevel: level, checksumFlag: checksum });
      expect(readZstdContentSize(oneShot.compress(input))).toEqual({ state: 'known', bytes: BigInt(length) });
      const sizeless = new Compressor();
      sizeless.setParameters({ compressionLevel: level, contentSizeFlag: false });
      expect(readZstdContentSize(sizeless.compress(input))).toEqual({ state: 'absent' });
    },
  ));
  expect(readZstdContentSize(compress(Buffer.alloc(12 * 2 ** 20)))).toEqual({ state: 'known', bytes: BigInt(12 * 2 ** 20) });
});
