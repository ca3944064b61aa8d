/**
 * Image formats recognised by their magic bytes, never by the URL or by what
 * the conductor claims (ipa-protocol.md 9.5: IPA cross-checks disk_format
 * against the detected format; we trust only the bytes).
 */
export type ImageFormat = 'raw' | 'zstd' | 'gzip' | 'xz' | 'qcow2';

/** Bytes needed to tell every format apart (xz has the longest magic). */
export const MAGIC_BYTES_NEEDED = 6;

const magics: ReadonlyArray<readonly [Exclude<ImageFormat, 'raw'>, readonly number[]]> = [
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]], // RFC 8878 3.1.1 frame magic 0xFD2FB528, little-endian
  ['gzip', [0x1f, 0x8b, 0x08]], // RFC 1952: ID1 ID2 and CM=8 (deflate), the only method defined
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]], // xz file format 2.1.1.1: 0xFD '7zXZ' 0x00
  ['qcow2', [0x51, 0x46, 0x49, 0xfb]], // 'QFI\xfb', QEMU's qcow2 header magic
];

/**
 * The format of an image from its first bytes. Anything unrecognised is raw:
 * a whole-disk image starts with an MBR, a GPT's protective MBR, or a bare
 * filesystem, none of which collide with these magics. Returns undefined when
 * more bytes are needed to decide (fewer than MAGIC_BYTES_NEEDED and still a
 * prefix of some magic), unless `final` says no more bytes will come.
 */
export function detectImageFormat(head: Uint8Array, final = false): ImageFormat | undefined {
  for (const [format, magic] of magics) {
    const n = Math.min(head.length, magic.length);
    let same = true;
    for (let i = 0; i < n && same; i++) same = head[i] === magic[i];
    if (!same) continue;
    if (n === magic.length) return format;
    if (!final) return undefined;
  }
  return 'raw';
}

/** zstd skippable frames (0x184D2A50..5F) open some seekable-zstd images; the decoder handles them, detection must too. */
export function isZstdSkippableFrame(head: Uint8Array): boolean {
  return head.length >= 4 && (head[0]! & 0xf0) === 0x50 && head[1] === 0x2a && head[2] === 0x4d && head[3] === 0x18;
}

export function isCompressed(format: ImageFormat): format is 'zstd' | 'gzip' | 'xz' {
  return format === 'zstd' || format === 'gzip' || format === 'xz';
}
