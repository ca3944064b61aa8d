/**
 * The size a zstd frame says it decompresses to, read from its header
 * (RFC 8878 3.1.1.1) so that an image larger than the disk is refused before
 * the first write. `zstd file` and one-shot compressors record it; a stream
 * compressed from a pipe does not ('absent'), and neither does a skippable
 * frame ('not-a-frame': seekable and pzstd images start with one). The first
 * frame's size is a lower bound of the whole stream's, however many frames
 * follow.
 */
export type ZstdContentSize =
  | { state: 'incomplete' }
  | { state: 'not-a-frame' }
  | { state: 'absent' }
  | { state: 'known'; bytes: bigint };

/** Magic (4) + Frame_Header_Descriptor (1) + Window_Descriptor (1) + Dictionary_ID (4) + Frame_Content_Size (8). */
export const ZSTD_MAX_FRAME_HEADER_BYTES = 18;

const MAGIC = [0x28, 0xb5, 0x2f, 0xfd]; // 0xFD2FB528, little-endian
const DICTIONARY_ID_BYTES = [0, 1, 2, 4] as const;
const CONTENT_SIZE_BYTES = [0, 2, 4, 8] as const;

/** Reads the first frame's Frame_Content_Size from the stream's first bytes (pure; never throws). */
export function readZstdContentSize(head: Uint8Array): ZstdContentSize {
  for (let i = 0; i < MAGIC.length; i++) {
    if (i >= head.length) return { state: 'incomplete' };
    if (head[i] !== MAGIC[i]) return { state: 'not-a-frame' };
  }
  if (head.length < 5) return { state: 'incomplete' };
  const descriptor = head[4]!;
  // Reserved bit set: not a header this reader understands; the decoder says what is wrong with it.
  if (descriptor & 0x08) return { state: 'absent' };
  const singleSegment = (descriptor & 0x20) !== 0;
  const sizeFlag = descriptor >> 6;
  // Flag 0 means a 1-byte size in a single-segment frame, no size otherwise (3.1.1.1.1).
  const sizeBytes = sizeFlag === 0 ? (singleSegment ? 1 : 0) : CONTENT_SIZE_BYTES[sizeFlag]!;
  if (sizeBytes === 0) return { state: 'absent' };
  const at = 5 + (singleSegment ? 0 : 1) + DICTIONARY_ID_BYTES[descriptor & 0x03]!;
  if (head.length < at + sizeBytes) return { state: 'incomplete' };
  let bytes = 0n;
  for (let i = sizeBytes - 1; i >= 0; i--) bytes = (bytes << 8n) | BigInt(head[at + i]!);
  // The 2-byte field counts from 256 (3.1.1.1.4).
  if (sizeBytes === 2) bytes += 256n;
  return { state: 'known', bytes };
}
