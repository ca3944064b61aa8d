import fc from 'fast-check';
import { expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import { fuzz } from '../../../test/support/fuzz.ts';
import { encodeSeekTable, frameAt, frameForOffset, parseSeekTable, type SeekTable, type SeekTableFrame } from './seekable-zstd.ts';

/** A frame the format can hold: at least 8 bytes, and no more than 32768 times expanded, 1 GiB at most. */
const frame = fc.tuple(fc.integer({ min: 8, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 2 ** 30 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.boolean())
  .map(([compressedSize, wanted, checksum, small]): SeekTableFrame => {
    const most = Math.min(2 ** 30, Math.floor((compressedSize - 6) / 4) * 128 * 1024);
    // Half the frames small, as real ones are (a few MiB at most): the large ones test the sums.
    const size = small ? Math.min(compressedSize, 2 ** 22) : compressedSize;
    return { compressedSize: size, decompressedSize: wanted % (Math.min(most, Math.floor((size - 6) / 4) * 128 * 1024) + 1), checksum };
  });
const frames = fc.array(frame, { maxLength: 40 });

/** Every promise a table makes: offsets from 0, frames as large as a frame can be, totals that add up, lookups that land. */
function expectConsistent(table: SeekTable, tail: Uint8Array, streamBytes: number | undefined): void {
  const entry = table.hasChecksums ? 12 : 8;
  expect(table.tableBytes).toBe(8 + table.frameCount * entry + 9);
  expect(table.tableBytes).toBeLessThanOrEqual(tail.length);
  expect(table.compressedOffsets.length).toBe(table.frameCount + 1);
  expect(table.compressedOffsets[0]).toBe(0);
  expect(table.decompressedOffsets[0]).toBe(0);
  expect(table.compressedOffsets[table.frameCount]).toBe(table.compressedBytes);
  expect(table.decompressedOffsets[table.frameCount]).toBe(table.decompressedBytes);
  expect(Number.isSafeInteger(table.compressedBytes + table.tableBytes)).toBe(true);
  expect(Number.isSafeInteger(table.decompressedBytes)).toBe(true);
  if (streamBytes !== undefined) expect(table.compressedBytes + table.tableBytes).toBe(streamBytes);
  for (let i = 0; i < table.frameCount; i++) {
    const f = frameAt(table, i);
    expect(f.compressedSize).toBeGreaterThanOrEqual(8);
    expect(f.compressedSize).toBeLessThanOrEqual(2 ** 32 - 1);
    expect(f.decompressedSize).toBeGreaterThanOrEqual(0);
    expect(f.decompressedSize).toBeLessThanOrEqual(2 ** 30);
    if (f.decompressedSize > 0) {
      for (const offset of [f.decompressedOffset, f.decompressedOffset + f.decompressedSize - 1]) expect(frameForOffset(table, offset)?.index).toBe(i);
    }
  }
  expect(frameForOffset(table, table.decompressedBytes)).toBeUndefined();
}

function parseOrRefuse(tail: Uint8Array, streamBytes: number | undefined): SeekTable | undefined {
  try {
    return parseSeekTable(tail, { streamBytes });
  } catch (error) {
    expect(isIngotError(error, 'INGOT_IMAGE_FORMAT'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/the zstd seek table is invalid: .+; /);
    return undefined;
  }
}

it('parses back every table it encodes, frame for frame', async () => {
  await fuzz('parseSeekTable(encodeSeekTable(frames)) is frames', 150, fc.property(frames, fc.boolean(), (list, checksums) => {
    const table = parseSeekTable(encodeSeekTable(list, { checksums }));
    const streamBytes = list.reduce((sum, f) => sum + f.compressedSize, 0) + table.tableBytes;
    expectConsistent(table, encodeSeekTable(list, { checksums }), undefined);
    expect(parseSeekTable(encodeSeekTable(list, { checksums }), { streamBytes }).frameCount).toBe(list.length);
    expect(Array.from({ length: table.frameCount }, (_, i) => frameAt(table, i)).map(({ compressedSize, decompressedSize, checksum }) => ({ compressedSize, decompressedSize, ...(checksums ? { checksum } : {}) })))
      .toEqual(list.map(({ compressedSize, decompressedSize, checksum }) => ({ compressedSize, decompressedSize, ...(checksums ? { checksum } : {}) })));
  }));
});

it('refuses a mutated table cleanly or returns one whose offsets are consistent', async () => {
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  );
  await fuzz('parseSeekTable on mutated valid tables', 250, fc.property(
    frames, fc.boolean(), fc.uint8Array({ maxLength: 24 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.constantFrom('none', 'right', 'off'),
    (list, checksums, prefix, mutations, given) => {
      let tail = Uint8Array.from([...prefix, ...encodeSeekTable(list, { checksums })]);
      const right = list.reduce((sum, f) => sum + f.compressedSize, 0) + tail.length - prefix.length;
      for (const m of mutations) {
        if (m.kind === 'byte' && tail.length > 0) tail[m.at % tail.length] = m.value;
        else if (m.kind === 'cut') tail = tail.subarray(m.at % (tail.length + 1));
        else if (m.kind === 'append') tail = Uint8Array.from([...tail, ...m.bytes]);
      }
      const streamBytes = given === 'none' ? undefined : given === 'right' ? right : right + 1;
      const table = parseOrRefuse(tail, streamBytes);
      if (table) expectConsistent(table, tail, streamBytes);
    },
  ));
});

it('never throws anything but the clean error on any bytes ending in the seekable magic', async () => {
  await fuzz('parseSeekTable on arbitrary bytes with the footer magic', 100, fc.property(
    fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 40 }), fc.integer({ min: 0, max: 255 }), fc.option(fc.nat({ max: 2 ** 40 }), { nil: undefined }),
    (body, count, descriptor, streamBytes) => {
      const tail = Uint8Array.from([...body, count & 0xff, 0, 0, 0, descriptor, 0xb1, 0xea, 0x92, 0x8f]);
      const table = parseOrRefuse(tail, streamBytes);
      if (table) expectConsistent(table, tail, streamBytes);
    },
  ));
});
