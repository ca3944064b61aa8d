import { describe, expect, it } from 'vitest';
import { IngotError } from '@ingot/protocol';
import { checkImageFormat, detectImageFormat, detectImageFormatSoFar, FORMAT_PROBE_BYTES, isCompressed, type ImageFormat } from './format.ts';

function head(bytes: number[] | string, offset = 0, length = FORMAT_PROBE_BYTES): Buffer {
  const buffer = Buffer.alloc(length);
  (typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes)).copy(buffer, offset);
  return buffer;
}

/** A protective MBR as sgdisk writes it: partition type 0xEE at entry 1, 55 AA at 510. */
function gptDisk(): Buffer {
  const buffer = head([]);
  buffer[446 + 4] = 0xee;
  buffer[510] = 0x55;
  buffer[511] = 0xaa;
  buffer.write('EFI PART', 512, 'latin1');
  return buffer;
}

describe('detectImageFormat', () => {
  it.each<[ImageFormat, Buffer]>([
    ['zstd', head([0x28, 0xb5, 0x2f, 0xfd, 0x24])],
    ['gzip', head([0x1f, 0x8b, 0x08, 0x00])],
    ['xz', head([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00])],
    ['qcow2', head('QFI\xfb\x00\x00\x00\x03')],
    ['vmdk', head('KDMV\x01\x00\x00\x00')],
    ['vhdx', head('vhdxfile')],
    ['vhd', head('conectix')],
    ['vdi', head([0x7f, 0x10, 0xda, 0xbe], 0x40)],
    ['luks', head('LUKS\xba\xbe\x00\x02')],
    ['iso', head('\x01CD001\x01', 32768)],
  ])('recognises %s by its magic bytes', (format, bytes) => {
    expect(detectImageFormat(bytes)).toBe(format);
  });

  it('takes a GPT disk, an MBR disk and a bare filesystem as raw', () => {
    expect(detectImageFormat(gptDisk())).toBe('raw');
    const ext4 = head([0x53, 0xef], 1024 + 0x38);
    expect(detectImageFormat(ext4)).toBe('raw');
    expect(detectImageFormat(Buffer.alloc(0))).toBe('raw');
  });

  it('cannot see an ISO in fewer bytes than its signature needs, which is why callers give FORMAT_PROBE_BYTES', () => {
    expect(detectImageFormat(head('\x01CD001', 32768).subarray(0, 32770))).toBe('raw');
  });
});

describe('detectImageFormat on bytes still arriving (the streaming pipeline)', () => {
  const bytes = (...values: number[]) => Uint8Array.from(values);

  it('decides a compressed or qcow2 stream as soon as its magic is complete', () => {
    expect(detectImageFormatSoFar(bytes(0x28, 0xb5, 0x2f, 0xfd))).toBe('zstd');
    expect(detectImageFormatSoFar(bytes(0x1f, 0x8b, 0x08))).toBe('gzip');
    expect(detectImageFormatSoFar(bytes(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00))).toBe('xz');
    expect(detectImageFormatSoFar(bytes(0x51, 0x46, 0x49, 0xfb))).toBe('qcow2');
  });

  it('asks for more bytes while the head is still a prefix of a magic', () => {
    expect(detectImageFormatSoFar(bytes(0xfd, 0x37, 0x7a))).toBeUndefined();
    expect(detectImageFormatSoFar(bytes(0x28))).toBeUndefined();
    expect(detectImageFormatSoFar(bytes())).toBeUndefined();
    expect(detectImageFormat(bytes(0xfd, 0x37, 0x7a))).toBe('raw');
  });

  it('calls a stream raw only once the bytes rule out the ISO signature, so an ISO is never streamed as raw', () => {
    const mbr = gptDisk();
    expect(detectImageFormatSoFar(mbr.subarray(0, 32769))).toBeUndefined();
    expect(detectImageFormatSoFar(mbr.subarray(0, 32770))).toBe('raw');
    expect(detectImageFormatSoFar(head('\x01CD00', 32768).subarray(0, 32773))).toBeUndefined();
    expect(detectImageFormatSoFar(head('\x01CD001\x01', 32768).subarray(0, 32774))).toBe('iso');
  });

  it('does not mistake a gzip magic with another compression method for gzip', () => {
    expect(detectImageFormat(head([0x1f, 0x8b, 0x07, 0x00]))).toBe('raw');
  });

  it('takes a zstd skippable frame (seekable zstd) for zstd', () => {
    expect(detectImageFormat(head([0x5e, 0x2a, 0x4d, 0x18, 0x10, 0, 0, 0]))).toBe('zstd');
    expect(isCompressed('zstd')).toBe(true);
    expect(isCompressed('qcow2')).toBe(false);
  });
});

describe('checkImageFormat', () => {
  const refusal = (detected: ImageFormat, declared: string | null, inner = false) => {
    try {
      checkImageFormat(detected, declared, { inner });
    } catch (error) {
      if (error instanceof IngotError) return error;
    }
    throw new Error('accepted');
  };

  it('writes raw images declared raw, gpt, unknown or not at all', () => {
    for (const declared of ['raw', 'gpt', 'unknown', '', null]) expect(checkImageFormat('raw', declared)).toBe('write');
  });

  it('converts qcow2 declared qcow2 or not declared', () => {
    expect(checkImageFormat('qcow2', 'qcow2')).toBe('convert');
    expect(checkImageFormat('qcow2', null)).toBe('convert');
  });

  it('refuses a qcow2 image declared raw, as IPA inspection does, rather than writing the container to disk', () => {
    const error = refusal('qcow2', 'raw');
    expect(error.code).toBe('INGOT_IMAGE_FORMAT');
    expect(error.message).toMatch(/qcow2.*disk_format is raw/);
  });

  it('refuses a raw image declared qcow2', () => {
    expect(refusal('raw', 'qcow2').message).toMatch(/declared qcow2/);
  });

  it('decompresses zstd, gzip and xz declared raw or undeclared, and refuses them declared qcow2', () => {
    expect(checkImageFormat('zstd', 'raw')).toBe('decompress');
    expect(checkImageFormat('xz', null)).toBe('decompress');
    expect(checkImageFormat('gzip', 'RAW')).toBe('decompress');
    expect(refusal('gzip', 'qcow2').code).toBe('INGOT_IMAGE_FORMAT');
  });

  it('refuses nested compression and a qcow2 inside a compressed stream', () => {
    expect(refusal('gzip', 'raw', true).message).toMatch(/nested compression/);
    expect(refusal('qcow2', 'raw', true).message).toMatch(/inside its compression/);
    expect(checkImageFormat('raw', 'raw', { inner: true })).toBe('write');
  });

  it.each<ImageFormat>(['vmdk', 'vhdx', 'vhd', 'vdi', 'iso', 'luks'])('refuses %s whatever was declared', (format) => {
    expect(refusal(format, format).message).toMatch(new RegExp(`${format} images are not accepted`));
    expect(refusal(format, null).code).toBe('INGOT_IMAGE_FORMAT');
  });
});
