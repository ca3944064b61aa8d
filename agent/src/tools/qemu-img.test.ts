import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseQemuImgInfo, parseQemuImgProgress, qemuImgConvertArgv, qemuImgInfoArgv } from './qemu-img.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('qemu-img', () => {
  it('inspects as qcow2 only, and converts onto the existing target with O_DIRECT on block devices', () => {
    expect(qemuImgInfoArgv('/tmp/x.qcow2')).toEqual(['qemu-img', 'info', '-f', 'qcow2', '--output=json', '/tmp/x.qcow2']);
    expect(qemuImgConvertArgv('/tmp/x.qcow2', '/dev/sda', { targetIsBlockDevice: true })).toEqual(
      ['qemu-img', 'convert', '-p', '-W', '-f', 'qcow2', '-O', 'raw', '-t', 'none', '-n', '/tmp/x.qcow2', '/dev/sda'],
    );
    expect(qemuImgConvertArgv('/tmp/x.qcow2', '/tmp/disk.img', { targetIsBlockDevice: false })).toContain('writeback');
  });

  it('reads the virtual size of a plain qcow2, with no backing or data file', () => {
    expect(parseQemuImgInfo(fixture('qemu-img-info-plain.json'))).toEqual({ format: 'qcow2', virtualSize: 8388608, backingFile: null, dataFile: null, corrupt: false });
  });

  it('reports a backing file and an external data file', () => {
    expect(parseQemuImgInfo(fixture('qemu-img-info-backing.json')).backingFile).toBe('base.raw');
    expect(parseQemuImgInfo(fixture('qemu-img-info-data-file.json')).dataFile).toBe('data.raw');
  });

  it('refuses output without a format or a virtual size', () => {
    expect(() => parseQemuImgInfo('{"filename": "x"}')).toThrow(/virtual-size/);
    expect(() => parseQemuImgInfo('not json')).toThrow();
  });

  it('reads the last percentage of -p output', () => {
    expect(parseQemuImgProgress(fixture('qemu-img-convert-progress.stdout.txt'))).toBe(1);
    expect(parseQemuImgProgress('    (0.00/100%)\r    (66.67/100%)\r')).toBeCloseTo(0.6667);
    expect(parseQemuImgProgress('')).toBeUndefined();
  });
});
