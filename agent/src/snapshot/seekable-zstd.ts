import { IngotError } from '@ingot/protocol';

/**
 * zstd's seekable format (facebook/zstd, the format document in contrib/seekable_format/,
 * version 0.1.0): independent zstd frames followed by one skippable frame
 * holding a seek table, so that plain `zstd -d` reads the image (it skips the
 * table) and a reader that knows the table decompresses any frame alone, on
 * any core, fetched by Range.
 *
 *   Skippable_Magic_Number (4) | Frame_Size (4) | entries | Number_Of_Frames (4) | Seek_Table_Descriptor (1) | Seekable_Magic_Number (4)
 *   entry: Compressed_Size (4) | Decompressed_Size (4) | [Checksum (4)]
 *
 * All fields little-endian. Pure: no I/O.
 */

/** The seek table's skippable frame magic (a zstd skippable magic, 0x184D2A50-5F, the one the format names). */
export const SEEKABLE_SKIPPABLE_MAGIC = 0x184d2a5e;
/** The last four bytes of a seekable stream. */
export const SEEKABLE_MAGIC = 0x8f92eab1;
export const SEEK_TABLE_FOOTER_BYTES = 9;
const SKIPPABLE_HEADER_BYTES = 8;
/** Checksum_Flag, bit 7 of Seek_Table_Descriptor. */
const CHECKSUM_FLAG = 0x80;
/** Reserved_Bits (6-2): "a compliant decoder should ensure they are set to 0". Bits 1-0 are unused and not read. */
const RESERVED_BITS = 0x7c;
/**
 * The limits of zstd's own seekable library (ZSTD_SEEKABLE_MAXFRAMES and
 * ZSTD_SEEKABLE_MAX_FRAME_DECOMPRESSED_SIZE): a table beyond them is one its
 * reader refuses, and they bound what a table can make us allocate (at most
 * 2^27 entries; with 4 MiB frames that is 512 TiB of disk).
 */
export const SEEKABLE_MAX_FRAMES = 0x8000000;
export const SEEKABLE_MAX_FRAME_DECOMPRESSED_BYTES = 0x40000000;
/**
 * No frame is shorter: a zstd frame has a 4-byte magic, a header of at least
 * 2 bytes and a 3-byte block header; a skippable frame a magic and a size.
 */
const MIN_FRAME_BYTES = 8;
/**
 * The most a frame can expand: a block decompresses to at most 128 KiB
 * (RFC 8878 3.1.1.2.4) and takes at least 4 bytes (a 3-byte header and one
 * RLE byte), after a frame header of at least 6 bytes.
 */
const MAX_BLOCK_BYTES = 128 * 1024;
const MIN_BLOCK_BYTES = 4;
const MIN_FRAME_HEADER_BYTES = 6;

/** One frame as the table records it. */
export interface SeekTableFrame {
  compressedSize: number;
  decompressedSize: number;
  /** The low 32 bits of the XXH64 of the frame's decompressed bytes (the zstd frame checksum's value). */
  checksum?: number;
}

/** A frame located in the stream (offsets are safe integers, in bytes). */
export interface SeekTableEntry extends SeekTableFrame {
  index: number;
  compressedOffset: number;
  decompressedOffset: number;
}

/**
 * A parsed table. The offsets are cumulative, one more than the frames: entry
 * `i` is where frame `i` starts, the last is the total. Typed arrays, not an
 * object per frame: a 16 TiB disk in 4 MiB frames has 4 million frames.
 */
export interface SeekTable {
  frameCount: number;
  hasChecksums: boolean;
  /** The seek table's skippable frame, in bytes: the last bytes of the stream. */
  tableBytes: number;
  /** Sum of the frames' compressed sizes: the stream's size without its table. */
  compressedBytes: number;
  decompressedBytes: number;
  compressedOffsets: Float64Array;
  decompressedOffsets: Float64Array;
  checksums: Uint32Array | undefined;
}

/** What the last 9 bytes say: how many bytes to read from the end for the whole table. */
export interface SeekTableFooter {
  frameCount: number;
  hasChecksums: boolean;
  tableBytes: number;
}

const invalid = (what: string) => new IngotError('INGOT_IMAGE_FORMAT', { details: `the zstd seek table is invalid: ${what}; the image is not a seekable zstd stream Ingot can read, capture it again` });

const readU32 = (bytes: Uint8Array, at: number) => (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;

function writeU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
  bytes[at + 3] = (value >>> 24) & 0xff;
}

const isU32 = (value: number) => Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
const entryBytes = (hasChecksums: boolean) => (hasChecksums ? 12 : 8);

/** What is wrong with one frame's sizes, if anything (shared by the encoder and the parser). */
function frameProblem(index: number, compressedSize: number, decompressedSize: number): string | undefined {
  if (!isU32(compressedSize) || compressedSize < MIN_FRAME_BYTES) return `frame ${index} has a compressed size of ${compressedSize} bytes, and no frame is shorter than ${MIN_FRAME_BYTES} or longer than 4 GiB`;
  if (!Number.isInteger(decompressedSize) || decompressedSize < 0 || decompressedSize > SEEKABLE_MAX_FRAME_DECOMPRESSED_BYTES) return `frame ${index} decompresses to ${decompressedSize} bytes, more than the 1 GiB a seekable frame may hold`;
  const most = Math.floor(Math.max(0, compressedSize - MIN_FRAME_HEADER_BYTES) / MIN_BLOCK_BYTES) * MAX_BLOCK_BYTES;
  if (decompressedSize > most) return `frame ${index} claims ${decompressedSize} bytes from ${compressedSize} compressed, more than a zstd frame of that size can hold (${most})`;
  return undefined;
}

/**
 * Reads the footer from the stream's last bytes (at least 9). `undefined`
 * when the stream does not end in the seekable magic: a plain zstd stream,
 * which is no error. Throws INGOT_IMAGE_FORMAT on a footer that has the magic
 * but cannot be right.
 */
export function parseSeekTableFooter(tail: Uint8Array): SeekTableFooter | undefined {
  if (tail.length < SEEK_TABLE_FOOTER_BYTES) return undefined;
  const at = tail.length - SEEK_TABLE_FOOTER_BYTES;
  if (readU32(tail, at + 5) !== SEEKABLE_MAGIC) return undefined;
  const frameCount = readU32(tail, at);
  const descriptor = tail[at + 4]!;
  if (descriptor & RESERVED_BITS) throw invalid(`its descriptor 0x${descriptor.toString(16).padStart(2, '0')} sets reserved bits (a newer format version?)`);
  if (frameCount > SEEKABLE_MAX_FRAMES) throw invalid(`it lists ${frameCount} frames, more than the ${SEEKABLE_MAX_FRAMES} allowed`);
  const hasChecksums = (descriptor & CHECKSUM_FLAG) !== 0;
  return { frameCount, hasChecksums, tableBytes: SKIPPABLE_HEADER_BYTES + frameCount * entryBytes(hasChecksums) + SEEK_TABLE_FOOTER_BYTES };
}

export interface ParseSeekTableOptions {
  /** The whole stream's size when known (Content-Length, the file's size): the frames and the table must add up to it. */
  streamBytes?: number;
}

/**
 * Parses the seek table from the stream's last bytes (`tail` holds at least
 * the table's skippable frame; what precedes it is ignored). Strict: every
 * size must be one a real frame can have, the totals must be safe integers,
 * and with `streamBytes` the frames must fill the stream exactly. Throws
 * INGOT_IMAGE_FORMAT naming what is wrong.
 */
export function parseSeekTable(tail: Uint8Array, options: ParseSeekTableOptions = {}): SeekTable {
  const footer = parseSeekTableFooter(tail);
  if (!footer) throw invalid(tail.length < SEEK_TABLE_FOOTER_BYTES ? `only ${tail.length} bytes were given, the footer alone takes ${SEEK_TABLE_FOOTER_BYTES}` : `the stream does not end in the seekable magic 0x${SEEKABLE_MAGIC.toString(16)}`);
  const { frameCount, hasChecksums, tableBytes } = footer;
  if (tail.length < tableBytes) throw invalid(`a table of ${frameCount} frames takes ${tableBytes} bytes, only the last ${tail.length} were given`);
  const start = tail.length - tableBytes;
  const magic = readU32(tail, start);
  if (magic !== SEEKABLE_SKIPPABLE_MAGIC) throw invalid(`the table's frame starts with 0x${magic.toString(16)}, not the skippable magic 0x${SEEKABLE_SKIPPABLE_MAGIC.toString(16)} (wrong frame count ${frameCount}?)`);
  const frameSize = readU32(tail, start + 4);
  if (frameSize !== tableBytes - SKIPPABLE_HEADER_BYTES) throw invalid(`its skippable frame says ${frameSize} bytes, but ${frameCount} entries and the footer take ${tableBytes - SKIPPABLE_HEADER_BYTES}`);
  if (options.streamBytes !== undefined && (!Number.isSafeInteger(options.streamBytes) || options.streamBytes < tableBytes)) throw invalid(`the stream is ${options.streamBytes} bytes, shorter than its own ${tableBytes}-byte table`);

  const compressedOffsets = new Float64Array(frameCount + 1);
  const decompressedOffsets = new Float64Array(frameCount + 1);
  const checksums = hasChecksums ? new Uint32Array(frameCount) : undefined;
  const size = entryBytes(hasChecksums);
  let compressed = 0;
  let decompressed = 0;
  for (let i = 0; i < frameCount; i++) {
    const at = start + SKIPPABLE_HEADER_BYTES + i * size;
    const compressedSize = readU32(tail, at);
    const decompressedSize = readU32(tail, at + 4);
    const problem = frameProblem(i, compressedSize, decompressedSize);
    if (problem) throw invalid(problem);
    if (checksums) checksums[i] = readU32(tail, at + 8);
    compressed += compressedSize;
    decompressed += decompressedSize;
    // At most 2^27 frames of 4 GiB: 2^59, past 2^53, so the sums are checked, not assumed.
    if (!Number.isSafeInteger(compressed + tableBytes) || !Number.isSafeInteger(decompressed)) throw invalid(`its sizes add up past ${Number.MAX_SAFE_INTEGER} bytes at frame ${i}`);
    compressedOffsets[i + 1] = compressed;
    decompressedOffsets[i + 1] = decompressed;
  }
  if (options.streamBytes !== undefined && compressed + tableBytes !== options.streamBytes) {
    throw invalid(`its ${frameCount} frames take ${compressed} bytes and the table ${tableBytes}, but the stream is ${options.streamBytes} bytes`);
  }
  return { frameCount, hasChecksums, tableBytes, compressedBytes: compressed, decompressedBytes: decompressed, compressedOffsets, decompressedOffsets, checksums };
}

/** Frame `index` of a parsed table. */
export function frameAt(table: SeekTable, index: number): SeekTableEntry {
  if (!Number.isInteger(index) || index < 0 || index >= table.frameCount) throw new RangeError(`frame ${index} is not in a table of ${table.frameCount} frames`);
  const entry: SeekTableEntry = {
    index,
    compressedOffset: table.compressedOffsets[index]!,
    compressedSize: table.compressedOffsets[index + 1]! - table.compressedOffsets[index]!,
    decompressedOffset: table.decompressedOffsets[index]!,
    decompressedSize: table.decompressedOffsets[index + 1]! - table.decompressedOffsets[index]!,
  };
  if (table.checksums) entry.checksum = table.checksums[index]!;
  return entry;
}

/**
 * The frame holding decompressed byte `offset`, or `undefined` past the end.
 * Frames that decompress to nothing (skippable frames) are never the answer.
 */
export function frameForOffset(table: SeekTable, offset: number): SeekTableEntry | undefined {
  const starts = table.decompressedOffsets;
  if (!Number.isInteger(offset) || offset < 0 || offset >= starts[table.frameCount]!) return undefined;
  // The first frame boundary past `offset`: the frame before it holds the byte.
  let low = 1;
  let high = table.frameCount;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (starts[middle]! > offset) high = middle;
    else low = middle + 1;
  }
  return frameAt(table, low - 1);
}

export interface SeekTableEncoder {
  /** Records the next frame. Throws INGOT_INTERNAL on sizes the format cannot hold. */
  add(frame: SeekTableFrame): void;
  readonly frameCount: number;
  /** The table's skippable frame, to append after the last frame. */
  finish(): Uint8Array;
}

const encodingError = (what: string) => new IngotError('INGOT_INTERNAL', { details: `cannot encode the zstd seek table: ${what}` });

/**
 * Builds a seek table frame by frame, 8 or 12 bytes each, without an object
 * per frame. `checksums` sets Checksum_Flag; every frame must then bring one.
 */
export function createSeekTableEncoder(options: { checksums: boolean }): SeekTableEncoder {
  const size = entryBytes(options.checksums);
  let bytes = new Uint8Array(SKIPPABLE_HEADER_BYTES + 64 * size + SEEK_TABLE_FOOTER_BYTES);
  let count = 0;
  let compressed = 0;
  let decompressed = 0;
  let finished = false;
  return {
    get frameCount() {
      return count;
    },
    add(frame) {
      if (finished) throw encodingError('the table was already finished');
      const problem = frameProblem(count, frame.compressedSize, frame.decompressedSize);
      if (problem) throw encodingError(problem);
      if (count >= SEEKABLE_MAX_FRAMES) throw encodingError(`more than ${SEEKABLE_MAX_FRAMES} frames`);
      if (options.checksums && (frame.checksum === undefined || !isU32(frame.checksum))) throw encodingError(`frame ${count} has no 32-bit checksum (${frame.checksum})`);
      compressed += frame.compressedSize;
      decompressed += frame.decompressedSize;
      if (!Number.isSafeInteger(compressed + SEEKABLE_MAX_FRAMES * size) || !Number.isSafeInteger(decompressed)) throw encodingError(`the sizes add up past ${Number.MAX_SAFE_INTEGER} bytes at frame ${count}`);
      const at = SKIPPABLE_HEADER_BYTES + count * size;
      if (at + size + SEEK_TABLE_FOOTER_BYTES > bytes.length) {
        const grown = new Uint8Array(bytes.length * 2);
        grown.set(bytes);
        bytes = grown;
      }
      writeU32(bytes, at, frame.compressedSize);
      writeU32(bytes, at + 4, frame.decompressedSize);
      if (options.checksums) writeU32(bytes, at + 8, frame.checksum!);
      count++;
    },
    finish() {
      finished = true;
      const total = SKIPPABLE_HEADER_BYTES + count * size + SEEK_TABLE_FOOTER_BYTES;
      const out = bytes.slice(0, total);
      writeU32(out, 0, SEEKABLE_SKIPPABLE_MAGIC);
      writeU32(out, 4, total - SKIPPABLE_HEADER_BYTES);
      const footer = total - SEEK_TABLE_FOOTER_BYTES;
      writeU32(out, footer, count);
      out[footer + 4] = options.checksums ? CHECKSUM_FLAG : 0;
      writeU32(out, footer + 5, SEEKABLE_MAGIC);
      return out;
    },
  };
}

/**
 * The seek table frame for `frames`. Checksums are recorded when every frame
 * has one, unless `options.checksums` says otherwise.
 */
export function encodeSeekTable(frames: readonly SeekTableFrame[], options: { checksums?: boolean } = {}): Uint8Array {
  const encoder = createSeekTableEncoder({ checksums: options.checksums ?? (frames.length > 0 && frames.every((frame) => frame.checksum !== undefined)) });
  for (const frame of frames) encoder.add(frame);
  return encoder.finish();
}
