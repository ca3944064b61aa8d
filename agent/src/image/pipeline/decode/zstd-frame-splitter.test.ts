import { describe, expect, it } from 'vitest';
import { Compressor } from 'zstd-napi';
import { createFrameSplitter, type FrameEvent } from './zstd-frame-splitter.ts';

/** A real zstd frame from libzstd, with its content size and checksum. */
function frame(content: Uint8Array, options: { checksum?: boolean; level?: number } = {}): Uint8Array {
  const compressor = new Compressor();
  compressor.setParameters({ compressionLevel: options.level ?? 3, checksumFlag: options.checksum ?? true });
  return Uint8Array.from(compressor.compress(content));
}

function skippable(payload: number, nibble = 0xe): Uint8Array {
  const out = new Uint8Array(8 + payload).fill(0xaa);
  new DataView(out.buffer).setUint32(0, 0x184d2a50 | nibble, true);
  new DataView(out.buffer).setUint32(4, payload, true);
  return out;
}

const concat = (...parts: Uint8Array[]) => Uint8Array.from(Buffer.concat(parts));

function mixed(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    // Half text-like (compressible), half noise, so frames hold raw, RLE and compressed blocks.
    out[i] = i % 8192 < 4096 ? 97 + (i % 13) : x >>> 24;
  }
  return out;
}

/** Splits `stream` fed in `chunks` (cut at the given positions) and reassembles each frame. */
function split(stream: Uint8Array, cuts: number[]): { frames: Uint8Array[]; events: FrameEvent[] } {
  const splitter = createFrameSplitter();
  const events: FrameEvent[] = [];
  const parts: Uint8Array[][] = [];
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    const chunk = stream.slice(from, cut);
    from = cut;
    for (const event of splitter.push(chunk)) {
      events.push(event);
      if (event.type === 'start') parts[event.index] = [];
      // Copied now: a real caller's chunk memory is reused.
      if (event.type === 'data') parts[event.index]!.push(event.bytes.slice());
    }
  }
  splitter.end();
  return { frames: parts.map((p) => concat(...p)), events };
}

describe('createFrameSplitter', () => {
  const a = frame(mixed(1, 300_000));
  const b = frame(new Uint8Array(200_000)); // zeros: RLE blocks
  const c = frame(mixed(2, 1000), { checksum: false });
  const stream = concat(skippable(5, 0x0), a, b, skippable(12), c, skippable(0, 0xf));

  it('gives every frame whole, with its content size and offset, skipping skippable frames', () => {
    const { frames, events } = split(stream, []);
    expect(frames).toEqual([a, b, c]);
    const starts = events.filter((e) => e.type === 'start');
    expect(starts).toEqual([
      { type: 'start', index: 0, offset: 13, contentSize: 300_000, checksum: true },
      { type: 'start', index: 1, offset: 13 + a.length, contentSize: 200_000, checksum: true },
      { type: 'start', index: 2, offset: 13 + a.length + b.length + 20, contentSize: 1000, checksum: false },
    ]);
    expect(events.filter((e) => e.type === 'end').map((e) => e.type === 'end' && e.bytes)).toEqual([a.length, b.length, c.length]);
  });

  it('gives the same frames when the stream is cut into two chunks at every position', () => {
    const small = concat(skippable(3), frame(mixed(3, 700)), frame(new Uint8Array(5000)), skippable(1), frame(mixed(4, 50), { checksum: false }));
    const expected = split(small, []).frames;
    for (let cut = 0; cut <= small.length; cut++) expect(split(small, [cut]).frames, `cut at ${cut}`).toEqual(expected);
  });

  it('gives the same frames from one-byte chunks', () => {
    const cuts = Array.from({ length: c.length + b.length - 1 }, (_, i) => i + 1);
    expect(split(concat(b, c), cuts).frames).toEqual([b, c]);
  });

  it('passes block contents as views of the chunk, not copies', () => {
    const splitter = createFrameSplitter();
    const events = splitter.push(a);
    const data = events.filter((e) => e.type === 'data');
    expect(data[1]!.type === 'data' && data[1]!.bytes.buffer).toBe(a.buffer);
  });

  it('refuses a stream that ends inside a frame, naming the frame and where it started', () => {
    const splitter = createFrameSplitter();
    splitter.push(concat(b, a.subarray(0, 100)));
    expect(() => splitter.end()).toThrow(expect.objectContaining({ code: 'INGOT_IMAGE_FORMAT', message: expect.stringContaining(`ends inside frame 1 (started at offset ${b.length})`) }));
  });

  it('refuses a stream that ends inside a skippable frame', () => {
    const splitter = createFrameSplitter();
    splitter.push(concat(a, skippable(10).subarray(0, 12)));
    expect(() => splitter.end()).toThrow(expect.objectContaining({ code: 'INGOT_IMAGE_FORMAT', message: expect.stringContaining('truncated') }));
  });

  it('refuses a block header of the reserved type, naming the frame and the offset', () => {
    const bad = b.slice();
    // b's first block header follows its header: magic, descriptor, (window?), content size.
    const headerEnd = split(b, []).events.find((e) => e.type === 'data')!;
    const at = headerEnd.type === 'data' ? headerEnd.bytes.length : 0;
    bad[at] = bad[at]! | 0x06;
    const splitter = createFrameSplitter();
    expect(() => splitter.push(concat(a, bad))).toThrow(expect.objectContaining({
      code: 'INGOT_IMAGE_FORMAT',
      message: expect.stringContaining(`zstd frame 1 (at offset ${a.length} of the stream) is corrupt: the block header at offset ${a.length + at} has the reserved block type`),
    }));
  });

  it('refuses a block larger than 128 KiB and bytes that are no frame at all', () => {
    const header = split(b, []).events.find((e) => e.type === 'data')!;
    const at = header.type === 'data' ? header.bytes.length : 0;
    const big = concat(b.subarray(0, at), Uint8Array.from([((131073 << 3) | 4) & 0xff, (131073 >> 5) & 0xff, (131073 >> 13) & 0xff]));
    expect(() => createFrameSplitter().push(big)).toThrow(/claims 131073 bytes, more than the 128 KiB/);
    expect(() => createFrameSplitter().push(concat(a, Uint8Array.from([1, 2, 3, 4])))).toThrow(`the zstd stream is corrupt at offset ${a.length}: no zstd frame starts here (magic 0x04030201)`);
  });

  it('accepts an empty stream and refuses a reserved descriptor bit', () => {
    expect(() => createFrameSplitter().end()).not.toThrow();
    expect(() => createFrameSplitter().push(Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0x08]))).toThrow(/reserved bit/);
  });
});
