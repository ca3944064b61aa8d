import { IngotError } from '@ingot/protocol';

/**
 * Image formats by their magic bytes, never by the URL (issue 4). IPA runs
 * oslo's format_inspector on the downloaded file and refuses what is not in
 * `permitted_image_formats` (raw, gpt, qcow2) or does not equal the declared
 * `disk_format` (ipa-protocol.md 9.5). Compression is Ingot's addition: a
 * zstd, gzip or xz stream is decompressed and its content is raw.
 */
export type ImageFormat =
  | 'raw' | 'zstd' | 'gzip' | 'xz' | 'qcow2'
  // Recognised only to be refused: each can reference other files or hide a
  // second format, which is why IPA's format inspector rejects them (9.5).
  | 'vmdk' | 'vhdx' | 'vhd' | 'vdi' | 'iso' | 'luks';

export type FormatKind = 'disk' | 'compressed' | 'refused';

export const FORMAT_KIND: Record<ImageFormat, FormatKind> = {
  raw: 'disk', qcow2: 'disk',
  zstd: 'compressed', gzip: 'compressed', xz: 'compressed',
  vmdk: 'refused', vhdx: 'refused', vhd: 'refused', vdi: 'refused', iso: 'refused', luks: 'refused',
};

/** Bytes to hand detectImageFormat: the ISO 9660 signature sits at byte 32769 (volume descriptor 16 of 2048 bytes, plus one). */
export const FORMAT_PROBE_BYTES = 64 * 1024;

interface Magic {
  format: Exclude<ImageFormat, 'raw'>;
  offset: number;
  bytes: readonly number[];
  /** Bits of each byte that must match (default all). */
  mask?: readonly number[];
}

const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));

/** In order of precedence: the first magic that matches wins. */
const MAGICS: readonly Magic[] = [
  { format: 'zstd', offset: 0, bytes: [0x28, 0xb5, 0x2f, 0xfd] }, // RFC 8878 3.1.1, 0xFD2FB528 little-endian
  // RFC 8878 3.1.2: skippable frames 0x184D2A50..5F open some seekable-zstd images; the decoder skips them.
  { format: 'zstd', offset: 0, bytes: [0x50, 0x2a, 0x4d, 0x18], mask: [0xf0, 0xff, 0xff, 0xff] },
  { format: 'gzip', offset: 0, bytes: [0x1f, 0x8b, 0x08] }, // RFC 1952: ID1 ID2 and CM=8 (deflate), the only method defined
  { format: 'xz', offset: 0, bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] }, // xz format 2.1.1.1
  { format: 'qcow2', offset: 0, bytes: [...ascii('QFI'), 0xfb] }, // QEMU qcow2 header
  { format: 'vmdk', offset: 0, bytes: ascii('KDMV') }, // VMware sparse extent
  { format: 'vhdx', offset: 0, bytes: ascii('vhdxfile') }, // MS-VHDX 2.2.1 file type identifier
  { format: 'vhd', offset: 0, bytes: ascii('conectix') }, // dynamic VHD footer copy at the start
  { format: 'luks', offset: 0, bytes: [...ascii('LUKS'), 0xba, 0xbe] }, // LUKS1/2 header
  { format: 'vdi', offset: 0x40, bytes: [0x7f, 0x10, 0xda, 0xbe] }, // VirtualBox signature 0xbeda107f
  { format: 'iso', offset: 32769, bytes: ascii('CD001') }, // ECMA-119 8.1: standard identifier
];

/** 'match', 'mismatch', or 'open' when the bytes seen so far are a prefix that still fits. */
function compare(head: Uint8Array, magic: Magic): 'match' | 'mismatch' | 'open' {
  for (let i = 0; i < magic.bytes.length; i++) {
    const at = magic.offset + i;
    if (at >= head.length) return 'open';
    const mask = magic.mask?.[i] ?? 0xff;
    if ((head[at]! & mask) !== magic.bytes[i]) return 'mismatch';
  }
  return 'match';
}

/**
 * The format of an image from its first bytes (give FORMAT_PROBE_BYTES, or the
 * whole image when shorter): these bytes are all there is to go on. Anything
 * unrecognised is raw: a disk image starts with an MBR or a protective MBR, a
 * partition image with a filesystem.
 */
export function detectImageFormat(firstBytes: Uint8Array): ImageFormat {
  return MAGICS.find((magic) => compare(firstBytes, magic) === 'match')?.format ?? 'raw';
}

/**
 * The same decision for a stream whose first bytes are still arriving:
 * undefined while a magic of higher precedence could still match with more
 * bytes (a raw image is known only once byte 32773 has been seen, past the ISO
 * signature; everything else after its own magic). Once the stream has ended,
 * call detectImageFormat on what came.
 */
export function detectImageFormatSoFar(head: Uint8Array): ImageFormat | undefined {
  for (const magic of MAGICS) {
    const outcome = compare(head, magic);
    if (outcome === 'match') return magic.format;
    if (outcome === 'open') return undefined;
  }
  return 'raw';
}

export function isCompressed(format: ImageFormat): format is 'zstd' | 'gzip' | 'xz' {
  return FORMAT_KIND[format] === 'compressed';
}

/** What the conductor may declare and still be believed; IPA treats an empty or `unknown` disk_format as "detect" (9.5). */
const UNDECLARED = new Set(['', 'unknown']);

/**
 * Cross-checks the detected format with the declared `disk_format`, as IPA's
 * `get_and_validate_image_format` does, and returns what the writer does:
 * write raw bytes, decompress first, or convert qcow2 with qemu-img.
 * - refused formats fail whatever was declared;
 * - compressed streams are accepted with `raw` or nothing declared (their
 *   content is checked again after decompression, with `inner: true`);
 * - qcow2 needs `qcow2` or nothing declared: `raw` declared but qcow2 detected
 *   would write a qcow2 container to the disk, and is refused;
 * - raw needs `raw`, `gpt` or nothing: `qcow2` declared but raw detected is a
 *   mislabelled (or truncated) image.
 */
export function checkImageFormat(
  detected: ImageFormat, declared: string | null | undefined, options: { inner?: boolean } = {},
): 'write' | 'decompress' | 'convert' {
  const want = (declared ?? '').trim().toLowerCase();
  const undeclared = UNDECLARED.has(want);
  const refuse = (why: string): never => {
    throw new IngotError('INGOT_IMAGE_FORMAT', {
      details: `the image is ${detected}${options.inner ? ' inside its compression' : ''} (by its magic bytes) and disk_format is ${declared ?? 'not given'}: ${why}`,
    });
  };
  switch (FORMAT_KIND[detected]) {
    case 'refused':
      return refuse(`${detected} images are not accepted; convert the image to raw or qcow2`);
    case 'compressed':
      if (options.inner) return refuse('nested compression is not accepted');
      if (!undeclared && want !== 'raw') return refuse('a compressed image must hold a raw disk image (declare disk_format raw)');
      return 'decompress';
    default:
      if (detected === 'qcow2') {
        if (options.inner) return refuse('a qcow2 image cannot be streamed from inside a compressed file; serve the qcow2 file itself');
        return undeclared || want === 'qcow2' ? 'convert' : refuse('a qcow2 image declared as another format is refused, as IPA does');
      }
      return undeclared || want === 'raw' || want === 'gpt' ? 'write' : refuse(`the image was declared ${want} but holds no ${want} header`);
  }
}
