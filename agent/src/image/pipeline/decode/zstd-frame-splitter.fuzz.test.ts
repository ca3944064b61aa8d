import fc from 'fast-check';
import { expect, it } from 'vitest';
import { Compressor } from 'zstd-napi';
import { isIngotError } from '@ingot/protocol';
import { fuzz } from '../../../../../test/support/fuzz.ts';
import { createFrameSplitter } from './zstd-frame-splitter.ts';

/** Real frames from libzstd: text-like, zero and noise content, with and without checksums. */
function realFrame(kind: number, length: number, checksum: boolean): Uint8Array {
  const content = new Uint8Array(length);
  let x = length + kind;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    content[i] = kind === 0 ? 0 : kind === 1 ? 97 + ((i * 7) % 23) : x >>> 24;
  }
  const compressor = new Compressor();
  compressor.setParameters({ compressionLevel: 1 + (length % 5), checksumFlag: checksum });
  return Uint8Array.from(compressor.compress(content));
}

function skippableFrame(payload: number): Uint8Array {
  const out = new Uint8Array(8 + payload).fill(0x5a);
  new DataView(out.buffer).setUint32(0, 0x184d2a50 | (payload & 0xf), true);
  new DataView(out.buffer).setUint32(4, payload, true);
  return out;
}

/**
 * Real frames made once (compressing per input cost seconds of the fuzz
 * budget): empty to 300 KB, zeros (RLE blocks), text (compressed blocks),
 * noise (raw blocks), with and without checksums, single-segment and not.
 */
const FRAMES = [0, 1, 100, 4095, 70_000, 131_072, 131_073, 300_000].flatMap((length, i) => [
  realFrame(i % 3, length, i % 2 === 0),
  realFrame((i + 1) % 3, length, i % 2 === 1),
]);

const part = fc.oneof(
  fc.integer({ min: 0, max: FRAMES.length - 1 }).map((i) => ({ zstd: true, bytes: FRAMES[i]! })),
  fc.integer({ min: 0, max: 40 }).map((n) => ({ zstd: false, bytes: skippableFrame(n) })),
);

/** Feeds `stream` in chunks cut at `cuts` (sorted, deduplicated positions) and reassembles the frames. */
function splitAt(stream: Uint8Array, cuts: number[]): Uint8Array[] {
  const splitter = createFrameSplitter();
  const frames: Uint8Array[][] = [];
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    for (const event of splitter.push(stream.subarray(from, cut))) {
      if (event.type === 'start') frames[event.index] = [];
      if (event.type === 'data') frames[event.index]!.push(event.bytes.slice());
    }
    from = cut;
  }
  splitter.end();
  return frames.map((f) => Uint8Array.from(Buffer.concat(f)));
}

it('gives the same frames from real multi-frame streams however they are chunked', async () => {
  await fuzz('zstd frame splitter on randomly chunked real streams', 800, fc.property(
    fc.array(part, { minLength: 1, maxLength: 6 }),
    fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }),
    (parts, fractions) => {
      const stream = Uint8Array.from(Buffer.concat(parts.map((p) => p.bytes)));
      const cuts = [...new Set(fractions.map((f) => Math.floor(f * stream.length)))].sort((a, b) => a - b);
      const frames = splitAt(stream, cuts);
      const expected = parts.filter((p) => p.zstd).map((p) => p.bytes);
      // Buffer.equals, not toEqual: a deep compare of megabytes, byte by byte, cost most of the run.
      expect(frames.length).toBe(expected.length);
      frames.forEach((frame, i) => expect(Buffer.from(frame).equals(expected[i]!), `frame ${i}`).toBe(true));
    },
  ));
});

it('never hangs or throws anything but INGOT_IMAGE_FORMAT on random or damaged bytes', async () => {
  const base = Uint8Array.from(Buffer.concat([realFrame(1, 200_000, true), skippableFrame(3), realFrame(2, 5000, false)]));
  await fuzz('zstd frame splitter on random and damaged bytes', 1_200, fc.property(
    fc.oneof(
      fc.uint8Array({ maxLength: 2000 }),
      fc.uint8Array({ maxLength: 400 }).map((tail) => Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, ...tail])),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map((edits) => {
        const damaged = base.slice(0, 3000);
        for (const [at, value] of edits) damaged[at % damaged.length] = value;
        return damaged;
      }),
    ),
    fc.integer({ min: 1, max: 700 }),
    (bytes, chunk) => {
      const splitter = createFrameSplitter();
      try {
        for (let at = 0; at < bytes.length; at += chunk) splitter.push(bytes.subarray(at, at + chunk));
        splitter.end();
      } catch (error) {
        if (!isIngotError(error) || error.code !== 'INGOT_IMAGE_FORMAT') throw error;
      }
      expect(splitter.offset).toBeLessThanOrEqual(bytes.length);
    },
  ));
});
