import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { flattenLsblk, lsblkArgv, parseLsblk } from './lsblk.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('lsblk', () => {
  it('asks for JSON with byte sizes, full paths and the columns the parser reads', () => {
    const argv = lsblkArgv(['/dev/loop0']);
    expect(argv.slice(0, 4)).toEqual(['lsblk', '--json', '--bytes', '--paths']);
    expect(argv.at(-2)).toContain('LOG-SEC');
    expect(argv.at(-1)).toBe('/dev/loop0');
  });

  it('parses loop disks with 512- and 4096-byte sectors and their GPT partitions', () => {
    const [small, large] = parseLsblk(fixture('lsblk-loop-gpt.json'));
    expect(small).toMatchObject({ name: '/dev/loop0', kname: '/dev/loop0', type: 'loop', size: 67108864, logicalSectorSize: 512, readOnly: false, start: null, model: null });
    expect(large).toMatchObject({ name: '/dev/loop1', logicalSectorSize: 4096, physicalSectorSize: 4096 });
    expect(small?.children.map((c) => c.name)).toEqual(['/dev/loop0p1', '/dev/loop0p2', '/dev/loop0p3']);
    expect(small?.children[0]).toMatchObject({ type: 'part', parent: '/dev/loop0', size: 16777216 });
  });

  it('turns the kernel start of a partition (always 512-byte units) into a byte offset, even on a 4096-byte-sector disk', () => {
    const [small, large] = parseLsblk(fixture('lsblk-loop-gpt.json'));
    expect(small?.children.map((c) => c.start)).toEqual([1048576, 17825792, 34603008]);
    expect(large?.children.map((c) => c.start)).toEqual([1048576, 17825792, 34603008]);
  });

  it('keeps a zero-size zram device and a virtio disk with no model as they are, for the caller to filter', () => {
    const devices = parseLsblk(fixture('lsblk-host.json'));
    expect(devices.find((d) => d.name === '/dev/zram0')).toMatchObject({ type: 'disk', size: 0 });
    expect(devices.find((d) => d.name === '/dev/vda')).toMatchObject({ type: 'disk', vendor: '0x1af4', physicalSectorSize: 4096, rotational: true });
  });

  it('lists each device of a tree once, even an md array that sits under both of its members', () => {
    const member = (name: string) => ({ name, kname: name, type: 'disk', size: '1000', children: [{ name: '/dev/md0', kname: '/dev/md0', type: 'raid1', size: '900' }] });
    const devices = parseLsblk(JSON.stringify({ blockdevices: [member('/dev/sda'), member('/dev/sdb')] }));
    expect(flattenLsblk(devices).map((d) => d.kname)).toEqual(['/dev/sda', '/dev/md0', '/dev/sdb']);
  });

  it('accepts the all-strings JSON of util-linux before 2.33 and trims padded SCSI strings', () => {
    // Shape of older lsblk JSON (values as strings); not captured here, where lsblk is 2.38.
    const legacy = JSON.stringify({ blockdevices: [{ name: '/dev/sda', kname: '/dev/sda', type: 'disk', size: '500107862016', 'log-sec': '512', 'phy-sec': '4096', rota: '0', ro: '1', model: 'Samsung SSD 860   ', vendor: 'ATA     ', serial: '' }] });
    expect(parseLsblk(legacy)[0]).toMatchObject({ size: 500107862016, physicalSectorSize: 4096, rotational: false, readOnly: true, model: 'Samsung SSD 860', vendor: 'ATA', serial: null });
  });

  it('refuses output that is not lsblk JSON rather than returning no disks', () => {
    expect(() => parseLsblk('{"devices": []}')).toThrow(/blockdevices/);
    expect(() => parseLsblk('lsblk: unknown column')).toThrow();
  });
});
