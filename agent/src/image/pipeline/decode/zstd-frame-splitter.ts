import { IngotError } from '@ingot/protocol';

/**
 * Splits a zstd stream at its frame boundaries as the bytes arrive, without
 * the seek table, so whole frames can go to different decompression threads
 * (parallel-zstd-decoder.ts). It walks only the headers (RFC 8878 3.1.1):
 * the magic, the frame header (whose Frame_Content_Size says how much memory
 * the frame's output needs), then each block's 3-byte header (Last_Block,
 * Block_Type, Block_Size; an RLE block carries 1 byte whatever its size),
 * then the optional 4-byte content checksum. That is a few bytes read per
 * block of up to 128 KiB; the block contents are passed on as views of the
 * caller's chunk, never copied. Skippable frames (magic 0x184D2A50-5F,
 * 3.1.2: pzstd's and the seek table of zstd's seekable format) are skipped.
 * The content is not checked here: each frame's decoder verifies it (and its
 * checksum).
 */
export type FrameEvent =
  /** A zstd frame begins; `offset` is its magic's position in the stream. The next `data` events carry its bytes, magic and header included. */
  | { type: 'start'; index: number; offset: number; contentSize: number | undefined; checksum: boolean }
  /** Bytes of frame `index`, in order; a view of the chunk given to `push` (or a small copy for bytes that spanned chunks). */
  | { type: 'data'; index: number; bytes: Uint8Array }
  /** Frame `index` ended: all its bytes were given; `bytes` is its compressed size. */
  | { type: 'end'; index: number; offset: number; bytes: number };

const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
/** RFC 8878 3.1.1.2.3: Block_Maximum_Size is at most 128 KiB. */
const MAX_BLOCK_BYTES = 128 * 1024;
const BLOCK_RESERVED = 3;
const BLOCK_RLE = 1;
const DICTIONARY_ID_BYTES = [0, 1, 2, 4] as const;
const CONTENT_SIZE_BYTES = [0, 2, 4, 8] as const;

type State = 'magic' | 'skippable-size' | 'skip' | 'header' | 'block-header' | 'block' | 'checksum';

export interface FrameSplitter {
  /** Walks `chunk`; the events' views are valid as long as `chunk` is. Throws INGOT_IMAGE_FORMAT naming the frame and offset. */
  push(chunk: Uint8Array): FrameEvent[];
  /** The stream ended: throws INGOT_IMAGE_FORMAT when it ended inside a frame. */
  end(): void;
  /** Stream bytes walked so far. */
  readonly offset: number;
  /** zstd frames started so far. */
  readonly frames: number;
}

export function createFrameSplitter(): FrameSplitter {
  let offset = 0;
  let state: State = 'magic';
  // Bytes of a magic, skippable size, frame header or block header gathered across chunks.
  const small = new Uint8Array(18);
  let smallFill = 0;
  let headerBytes = 0;
  let remaining = 0;
  let lastBlock = false;
  let checksum = false;
  let frameIndex = -1;
  let frameStart = 0;
  let skippableStart = 0;

  const corrupt = (what: string) => new IngotError('INGOT_IMAGE_FORMAT', {
    details: state === 'magic' || state === 'skippable-size' || state === 'skip'
      ? `the zstd stream is corrupt at offset ${offset}: ${what}`
      : `zstd frame ${frameIndex} (at offset ${frameStart} of the stream) is corrupt: ${what}`,
  });
  const u32 = (at: number) => (small[at]! | (small[at + 1]! << 8) | (small[at + 2]! << 16) | (small[at + 3]! << 24)) >>> 0;

  /** Frame header size from its descriptor (RFC 8878 3.1.1.1), magic included. */
  const headerSize = (descriptor: number) => {
    if (descriptor & 0x08) throw corrupt(`its frame header descriptor 0x${descriptor.toString(16)} sets the reserved bit`);
    const singleSegment = (descriptor & 0x20) !== 0;
    const sizeFlag = descriptor >> 6;
    const sizeBytes = sizeFlag === 0 ? (singleSegment ? 1 : 0) : CONTENT_SIZE_BYTES[sizeFlag]!;
    return 5 + (singleSegment ? 0 : 1) + DICTIONARY_ID_BYTES[descriptor & 0x03]! + sizeBytes;
  };
  const contentSize = (): number | undefined => {
    const descriptor = small[4]!;
    const singleSegment = (descriptor & 0x20) !== 0;
    const sizeFlag = descriptor >> 6;
    const sizeBytes = sizeFlag === 0 ? (singleSegment ? 1 : 0) : CONTENT_SIZE_BYTES[sizeFlag]!;
    if (sizeBytes === 0) return undefined;
    const at = headerBytes - sizeBytes;
    let value = 0;
    for (let i = sizeBytes - 1; i >= 0; i--) value = value * 256 + small[at + i]!;
    // The 2-byte field counts from 256 (3.1.1.1.4); 8-byte sizes past 2^53 are not disks we can write.
    return sizeBytes === 2 ? value + 256 : value;
  };

  return {
    get offset() {
      return offset;
    },
    get frames() {
      return frameIndex + 1;
    },
    push(chunk) {
      const events: FrameEvent[] = [];
      let at = 0;
      // Start of the current frame's bytes in this chunk, to emit as one view.
      let dataFrom = state === 'block' || state === 'block-header' || state === 'checksum' ? 0 : -1;
      const flushData = (to: number) => {
        if (dataFrom >= 0 && to > dataFrom) events.push({ type: 'data', index: frameIndex, bytes: chunk.subarray(dataFrom, to) });
        dataFrom = -1;
      };
      while (at < chunk.length) {
        switch (state) {
          case 'magic': {
            small[smallFill++] = chunk[at++]!;
            offset++;
            if (smallFill < 4) break;
            const magic = u32(0);
            if (magic === ZSTD_MAGIC) {
              state = 'header';
              headerBytes = 0;
              frameStart = offset - 4;
            } else if (((magic & SKIPPABLE_MASK) >>> 0) === SKIPPABLE_MAGIC) {
              state = 'skippable-size';
              skippableStart = offset - 4;
              smallFill = 0;
            } else {
              offset -= 4;
              throw corrupt(`no zstd frame starts here (magic 0x${magic.toString(16).padStart(8, '0')})`);
            }
            break;
          }
          case 'skippable-size':
            small[smallFill++] = chunk[at++]!;
            offset++;
            if (smallFill === 4) {
              remaining = u32(0);
              smallFill = 0;
              state = remaining > 0 ? 'skip' : 'magic';
            }
            break;
          case 'skip': {
            const count = Math.min(remaining, chunk.length - at);
            at += count;
            offset += count;
            remaining -= count;
            if (remaining === 0) state = 'magic';
            break;
          }
          case 'header': {
            small[smallFill++] = chunk[at++]!;
            offset++;
            if (smallFill === 5) {
              frameIndex++;
              headerBytes = headerSize(small[4]!);
              checksum = (small[4]! & 0x04) !== 0;
            }
            if (smallFill < 5 || smallFill < headerBytes) break;
            events.push({ type: 'start', index: frameIndex, offset: frameStart, contentSize: contentSize(), checksum });
            // The header spanned what came before: a copy of its few bytes, then the rest as a view.
            events.push({ type: 'data', index: frameIndex, bytes: small.slice(0, headerBytes) });
            smallFill = 0;
            state = 'block-header';
            dataFrom = at;
            break;
          }
          case 'block-header': {
            small[smallFill++] = chunk[at++]!;
            offset++;
            if (smallFill < 3) break;
            smallFill = 0;
            const header = small[0]! | (small[1]! << 8) | (small[2]! << 16);
            lastBlock = (header & 1) === 1;
            const type = (header >> 1) & 3;
            const size = header >>> 3;
            if (type === BLOCK_RESERVED) throw corrupt(`the block header at offset ${offset - 3} has the reserved block type`);
            // An RLE block's size is what it regenerates, bounded the same (RFC 8878 3.1.1.2.3).
            if (size > MAX_BLOCK_BYTES) throw corrupt(`the block at offset ${offset - 3} claims ${size} bytes, more than the 128 KiB a block may hold`);
            remaining = type === BLOCK_RLE ? 1 : size;
            state = remaining > 0 ? 'block' : lastBlock ? (checksum ? 'checksum' : 'magic') : 'block-header';
            if (state === 'checksum') remaining = 4;
            if (state === 'magic') {
              flushData(at);
              events.push({ type: 'end', index: frameIndex, offset: frameStart, bytes: offset - frameStart });
            }
            break;
          }
          case 'block':
          case 'checksum': {
            const count = Math.min(remaining, chunk.length - at);
            at += count;
            offset += count;
            remaining -= count;
            if (remaining > 0) break;
            if (state === 'block' && !lastBlock) state = 'block-header';
            else if (state === 'block' && checksum) {
              state = 'checksum';
              remaining = 4;
            } else {
              state = 'magic';
              flushData(at);
              events.push({ type: 'end', index: frameIndex, offset: frameStart, bytes: offset - frameStart });
            }
            break;
          }
        }
      }
      flushData(at);
      return events;
    },
    end() {
      if (state === 'magic' && smallFill === 0) return;
      if (state === 'magic' || state === 'skippable-size' || state === 'skip') {
        throw new IngotError('INGOT_IMAGE_FORMAT', { details: `the zstd stream is truncated: it ends inside a skippable frame or magic number (started at offset ${state === 'magic' ? offset - smallFill : skippableStart}, ${offset} bytes in all)` });
      }
      throw new IngotError('INGOT_IMAGE_FORMAT', { details: `the zstd stream is truncated: it ends inside frame ${frameIndex} (started at offset ${frameStart}), after ${offset} bytes` });
    },
  };
}
