import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { blkidProbeArgv, blkidProbeRangeArgv, parseBlkidExport } from './blkid.ts';

// Captured on Debian 12 (util-linux 2.38.1): `blkid -p -o export` of a loop device's GPT partitions,
// an ext4 root (mkfs.ext4 -L img-root) and a vfat ESP (mkfs.vfat -n efi-part).
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const ext4OnGpt = fixture('blkid-probe-ext4-gpt.txt');
const vfatEsp = fixture('blkid-probe-vfat-esp.txt');

describe('blkid', () => {
  it('probes the device itself, never the cache, whole or by range', () => {
    expect(blkidProbeArgv('/dev/sda2')).toEqual(['blkid', '--probe', '--output', 'export', '/dev/sda2']);
    expect(blkidProbeRangeArgv('/tmp/disk.img', 1048576, 67108864)).toEqual(['blkid', '--probe', '--offset', '1048576', '--size', '67108864', '--output', 'export', '/tmp/disk.img']);
  });

  it('reads the filesystem UUID and label, and the GPT partition GUID and name', () => {
    expect(parseBlkidExport(ext4OnGpt)).toEqual({
      uuid: '4f329967-6533-4545-9b30-892992975ed4', label: 'img-root', type: 'ext4',
      partUuid: '0d2b48ea-c649-43cd-a90a-23215af192ab', partLabel: 'root', partType: '0fc63daf-8483-4772-8e79-3d69d8477de4',
    });
  });

  it('takes a vfat UUID as it is (the volume serial, what IPA reports for the ESP)', () => {
    expect(parseBlkidExport(vfatEsp)).toMatchObject({ uuid: '4216-BE2B', label: 'efi-part', type: 'vfat', partLabel: 'efi-system-partition' });
  });

  it('unescapes what export mode escapes, and reads nothing from empty output', () => {
    expect(parseBlkidExport('LABEL=my\\ disk\n').label).toBe('my disk');
    expect(parseBlkidExport('')).toEqual({ uuid: null, label: null, type: null, partUuid: null, partLabel: null, partType: null });
  });
});
