import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeSignatures, parseWipefsErased, parseWipefsList, wipefsEraseArgv, wipefsListArgv } from './wipefs.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('wipefs', () => {
  it('lists without writing and erases everything with force', () => {
    expect(wipefsListArgv('/dev/loop0')).toEqual(['wipefs', '--no-act', '--json', '/dev/loop0']);
    expect(wipefsEraseArgv('/dev/loop0p1')).toEqual(['wipefs', '--all', '--force', '/dev/loop0p1']);
  });

  it('finds both GPT headers and the protective MBR on a 512-byte-sector disk', () => {
    const signatures = parseWipefsList(fixture('wipefs-list-loop-gpt-512.json'));
    expect(signatures.map((s) => [s.type, s.offset])).toEqual([['gpt', 0x200], ['gpt', 0x3fffe00], ['PMBR', 0x1fe]]);
    expect(signatures[0]).toMatchObject({ device: 'loop0', uuid: null, label: null });
  });

  it('finds the GPT header one 4096-byte sector in on a 4Kn disk', () => {
    const signatures = parseWipefsList(fixture('wipefs-list-loop-gpt-4096.json'));
    expect(signatures.map((s) => [s.type, s.offset])).toEqual([['gpt', 0x1000], ['gpt', 0x3fff000], ['PMBR', 0x1fe]]);
  });

  it('reads the filesystem type and UUID of ext4 and vfat partitions', () => {
    expect(parseWipefsList(fixture('wipefs-list-ext4.json'))).toEqual([{ device: 'loop0p1', offset: 0x438, type: 'ext4', uuid: 'cd2098f3-5731-4229-ba2c-578917e2288e', label: null }]);
    const vfat = parseWipefsList(fixture('wipefs-list-vfat-4096.json'));
    expect(vfat.map((s) => s.offset)).toEqual([0x36, 0x0, 0x1fe]);
    expect(new Set(vfat.map((s) => s.uuid))).toEqual(new Set(['AD61-EEAA']));
  });

  it('reports no signature on a blank device, whether wipefs prints an empty list or nothing', () => {
    expect(parseWipefsList(fixture('wipefs-list-empty.json'))).toEqual([]);
    expect(parseWipefsList('')).toEqual([]);
  });

  it('parses what wipefs --all says it erased', () => {
    expect(parseWipefsErased(fixture('wipefs-all-gpt.txt'))).toEqual([
      { device: '/tmp/ingot-fx.PE6Y/copy.img', bytes: 8, offset: 0x200, type: 'gpt' },
      { device: '/tmp/ingot-fx.PE6Y/copy.img', bytes: 8, offset: 0x3fffe00, type: 'gpt' },
      { device: '/tmp/ingot-fx.PE6Y/copy.img', bytes: 2, offset: 0x1fe, type: 'PMBR' },
    ]);
    expect(parseWipefsErased(fixture('wipefs-all-ext4.txt'))).toEqual([{ device: '/tmp/ingot-fx.PE6Y/f.img', bytes: 2, offset: 0x438, type: 'ext4' }]);
  });

  it('names what remains in a form fit for an error message', () => {
    expect(describeSignatures(parseWipefsList(fixture('wipefs-list-loop-gpt-4096.json')))).toBe('gpt at 0x1000, gpt at 0x3fff000, PMBR at 0x1fe');
  });

  it('refuses a signature entry it cannot read rather than dropping it', () => {
    expect(() => parseWipefsList('{"signatures": [{"device": "sda", "offset": "zz", "type": "gpt"}]}')).toThrow(/unexpected wipefs/);
  });
});
