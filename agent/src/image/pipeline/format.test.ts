import { describe, expect, it } from 'vitest';
import { detectImageFormat } from './format.ts';

const bytes = (...values: number[]) => Uint8Array.from(values);

describe('detectImageFormat', () => {
  it('recognises zstd, gzip, xz and qcow2 by their magic bytes', () => {
    expect(detectImageFormat(bytes(0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x00))).toBe('zstd');
    expect(detectImageFormat(bytes(0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00))).toBe('gzip');
    expect(detectImageFormat(bytes(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00))).toBe('xz');
    expect(detectImageFormat(bytes(0x51, 0x46, 0x49, 0xfb, 0x00, 0x00, 0x00, 0x03))).toBe('qcow2');
  });

  it('treats an MBR, a filesystem or anything unknown as raw', () => {
    const mbr = new Uint8Array(512);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    expect(detectImageFormat(mbr)).toBe('raw');
    expect(detectImageFormat(new TextEncoder().encode('hello world'))).toBe('raw');
  });

  it('asks for more bytes while the head is still a prefix of a magic, unless the stream has ended', () => {
    expect(detectImageFormat(bytes(0xfd, 0x37, 0x7a))).toBeUndefined();
    expect(detectImageFormat(bytes(0x28))).toBeUndefined();
    expect(detectImageFormat(bytes(0xfd, 0x37, 0x7a), true)).toBe('raw');
    expect(detectImageFormat(bytes(), true)).toBe('raw');
  });

  it('does not mistake a gzip magic with another compression method for gzip', () => {
    expect(detectImageFormat(bytes(0x1f, 0x8b, 0x07, 0x00, 0x00, 0x00))).toBe('raw');
  });
});
