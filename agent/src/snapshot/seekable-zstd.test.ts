import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import { createSeekTableEncoder, encodeSeekTable, frameAt, frameForOffset, parseSeekTable, parseSeekTableFooter, SEEKABLE_MAX_FRAMES } from './seekable-zstd.ts';

/** Fields laid out by hand after the format's document, independently of the encoder. */
function le32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
}

function expectFormatError(run: () => unknown, mentions: RegExp): void {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(isIngotError(thrown, 'INGOT_IMAGE_FORMAT'), String(thrown)).toBe(true);
  expect((thrown as Error).message).toMatch(mentions);
}

describe('encodeSeekTable', () => {
  it('lays out the skippable frame, the entries and the footer as the seekable format defines them', () => {
    const bytes = encodeSeekTable([
      { compressedSize: 211, decompressedSize: 4096, checksum: 0x2879a7ae },
      { compressedSize: 0x1234, decompressedSize: 1808, checksum: 0xdeadbeef },
    ]);
    expect([...bytes]).toEqual([
      ...le32(0x184d2a5e), ...le32(2 * 12 + 9),
      ...le32(211), ...le32(4096), ...le32(0x2879a7ae),
      ...le32(0x1234), ...le32(1808), ...le32(0xdeadbeef),
      ...le32(2), 0x80, ...le32(0x8f92eab1),
    ]);
  });

  it('leaves the checksums out, and the flag clear, when a frame has none', () => {
    const bytes = encodeSeekTable([{ compressedSize: 9, decompressedSize: 0 }, { compressedSize: 100, decompressedSize: 1000, checksum: 1 }]);
    expect([...bytes]).toEqual([...le32(0x184d2a5e), ...le32(2 * 8 + 9), ...le32(9), ...le32(0), ...le32(100), ...le32(1000), ...le32(2), 0x00, ...le32(0x8f92eab1)]);
  });

  it('writes an empty table for an empty stream', () => {
    const table = parseSeekTable(encodeSeekTable([]));
    expect(table).toMatchObject({ frameCount: 0, compressedBytes: 0, decompressedBytes: 0, tableBytes: 17 });
    expect(frameForOffset(table, 0)).toBeUndefined();
  });

  it('refuses sizes the format cannot hold, and a missing checksum when checksums are on', () => {
    const encoder = createSeekTableEncoder({ checksums: true });
    expect(() => encoder.add({ compressedSize: 100, decompressedSize: 10 })).toThrow(/no 32-bit checksum/);
    expect(() => encoder.add({ compressedSize: 2 ** 32, decompressedSize: 10, checksum: 0 })).toThrow(/compressed size/);
    expect(() => encoder.add({ compressedSize: 7, decompressedSize: 0, checksum: 0 })).toThrow(/compressed size of 7/);
    expect(() => encoder.add({ compressedSize: 100, decompressedSize: 2 ** 30 + 1, checksum: 0 })).toThrow(/more than the 1 GiB/);
    expect(() => encoder.add({ compressedSize: 10, decompressedSize: 2 ** 20, checksum: 0 })).toThrow(/more than a zstd frame of that size can hold/);
    encoder.add({ compressedSize: 10, decompressedSize: 128 * 1024, checksum: 0 });
    expect(encoder.frameCount).toBe(1);
  });
});

describe('parseSeekTable', () => {
  it('reads the table zstd\'s own seekable library wrote (fixtures/lines-4096.zst)', () => {
    const stream = readFileSync(new URL('./fixtures/lines-4096.zst', import.meta.url));
    const table = parseSeekTable(stream, { streamBytes: stream.length });
    expect(table).toMatchObject({ frameCount: 3, hasChecksums: true, tableBytes: 8 + 3 * 12 + 9, decompressedBytes: 10_000 });
    expect(table.compressedBytes + table.tableBytes).toBe(stream.length);
    expect([...table.decompressedOffsets]).toEqual([0, 4096, 8192, 10_000]);
    expect(frameAt(table, 0)).toEqual({ index: 0, compressedOffset: 0, compressedSize: 211, decompressedOffset: 0, decompressedSize: 4096, checksum: 0x2879a7ae });
    // Each frame starts with the zstd magic where the table says.
    for (let i = 0; i < 3; i++) expect([...stream.subarray(table.compressedOffsets[i]!, table.compressedOffsets[i]! + 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
  });

  it('reads the table from a tail longer than it, and from the whole stream', () => {
    const frames = [{ compressedSize: 50, decompressedSize: 4096, checksum: 7 }, { compressedSize: 60, decompressedSize: 100, checksum: 8 }];
    const table = encodeSeekTable(frames);
    const stream = new Uint8Array(110 + table.length);
    stream.set(table, 110);
    for (const tail of [table, stream, stream.subarray(3)]) {
      const parsed = parseSeekTable(tail);
      expect([...parsed.compressedOffsets]).toEqual([0, 50, 110]);
      expect([...parsed.checksums!]).toEqual([7, 8]);
    }
    expect(parseSeekTable(stream, { streamBytes: stream.length }).frameCount).toBe(2);
  });

  it('says a stream without the seekable magic has no footer, and refuses to parse it', () => {
    expect(parseSeekTableFooter(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0, 0, 0]))).toBeUndefined();
    expect(parseSeekTableFooter(new Uint8Array(3))).toBeUndefined();
    expectFormatError(() => parseSeekTable(new Uint8Array(20)), /does not end in the seekable magic/);
    expectFormatError(() => parseSeekTable(new Uint8Array(4)), /only 4 bytes were given/);
  });

  it('tells from the footer alone how many bytes the whole table takes', () => {
    const table = encodeSeekTable([{ compressedSize: 50, decompressedSize: 4096, checksum: 7 }, { compressedSize: 60, decompressedSize: 100, checksum: 8 }]);
    expect(parseSeekTableFooter(table.subarray(-9))).toEqual({ frameCount: 2, hasChecksums: true, tableBytes: table.length });
    expectFormatError(() => parseSeekTable(table.subarray(-20)), /takes 41 bytes, only the last 20 were given/);
  });

  it('names what is wrong with a damaged table', () => {
    const good = encodeSeekTable([{ compressedSize: 50, decompressedSize: 4096, checksum: 7 }, { compressedSize: 60, decompressedSize: 100, checksum: 8 }]);
    const damaged = (at: number, value: number) => {
      const copy = good.slice();
      copy[at] = value;
      return copy;
    };
    expectFormatError(() => parseSeekTable(damaged(good.length - 5, 0x84)), /reserved bits/);
    expectFormatError(() => parseSeekTable(damaged(0, 0x50)), /not the skippable magic/);
    expectFormatError(() => parseSeekTable(damaged(4, 0)), /skippable frame says 0 bytes/);
    expectFormatError(() => parseSeekTable(damaged(8, 3)), /frame 0 has a compressed size of 3 bytes/);
    expectFormatError(() => parseSeekTable(damaged(8 + 12 + 7, 0x80)), /more than the 1 GiB/);
    expectFormatError(() => parseSeekTable(good, { streamBytes: 200 }), /frames take 110 bytes and the table 41, but the stream is 200 bytes/);
    expectFormatError(() => parseSeekTable(good, { streamBytes: 10 }), /shorter than its own 41-byte table/);
    // A frame count too large for the bytes: the skippable magic is then looked for elsewhere.
    expectFormatError(() => parseSeekTable(damaged(good.length - 9, 1)), /not the skippable magic/);
    // Unused bits (1-0) are not read.
    expect(parseSeekTable(damaged(good.length - 5, 0x83)).frameCount).toBe(2);
  });

  it('refuses more frames than zstd\'s seekable library allows, before reading them', () => {
    const footer = new Uint8Array([...le32(SEEKABLE_MAX_FRAMES + 1), 0, ...le32(0x8f92eab1)]);
    expectFormatError(() => parseSeekTableFooter(footer), /134217729 frames/);
  });

  it('refuses a table whose sizes add up past what a number holds exactly', () => {
    // 2^21 frames of 4 GiB - 1 compressed bytes: more than 2^53 in all.
    const frames = 2 ** 21 + 1;
    const bytes = new Uint8Array(8 + frames * 8 + 9);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, 0x184d2a5e, true);
    view.setUint32(4, frames * 8 + 9, true);
    for (let i = 0; i < frames; i++) view.setUint32(8 + i * 8, 0xffffffff, true);
    view.setUint32(bytes.length - 9, frames, true);
    view.setUint32(bytes.length - 4, 0x8f92eab1, true);
    expectFormatError(() => parseSeekTable(bytes), /add up past 9007199254740991 bytes at frame 2097151/);
  });
});

describe('frameForOffset', () => {
  const table = parseSeekTable(encodeSeekTable([
    { compressedSize: 20, decompressedSize: 0 }, // a skippable frame first
    { compressedSize: 30, decompressedSize: 4096 },
    { compressedSize: 8, decompressedSize: 0 },
    { compressedSize: 40, decompressedSize: 4096 },
    { compressedSize: 50, decompressedSize: 10 },
  ], { checksums: false }));

  it('finds the frame holding each byte, never one that decompresses to nothing', () => {
    expect(frameForOffset(table, 0)).toEqual({ index: 1, compressedOffset: 20, compressedSize: 30, decompressedOffset: 0, decompressedSize: 4096 });
    expect(frameForOffset(table, 4095)?.index).toBe(1);
    expect(frameForOffset(table, 4096)).toEqual({ index: 3, compressedOffset: 58, compressedSize: 40, decompressedOffset: 4096, decompressedSize: 4096 });
    expect(frameForOffset(table, 8191)?.index).toBe(3);
    expect(frameForOffset(table, 8192)?.index).toBe(4);
    expect(frameForOffset(table, 8201)?.index).toBe(4);
  });

  it('answers nothing past the end or for an offset that is not a byte position', () => {
    expect(frameForOffset(table, 8202)).toBeUndefined();
    expect(frameForOffset(table, -1)).toBeUndefined();
    expect(frameForOffset(table, 1.5)).toBeUndefined();
    expect(() => frameAt(table, 5)).toThrow(RangeError);
  });
});
