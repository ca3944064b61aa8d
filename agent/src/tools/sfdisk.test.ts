import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isSfdiskNoTable, parseSfdiskJson, sfdiskJsonArgv } from './sfdisk.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('sfdisk --json', () => {
  it('lists without any option that writes or tells the kernel', () => {
    expect(sfdiskJsonArgv('/dev/sda')).toEqual(['sfdisk', '--json', '/dev/sda']);
  });

  it('reads a GPT table in bytes, with GUIDs and names, numbering partitions by their node', () => {
    expect(parseSfdiskJson(fixture('sfdisk-json-gpt.json'))).toEqual({
      label: 'gpt', id: '4BB3AC4A-7228-47A4-B4F4-ACECB4D880C7', sectorSize: 512,
      partitions: [
        { number: 1, startBytes: 2048 * 512, sizeBytes: 32768 * 512, type: '0FC63DAF-8483-4772-8E79-3D69D8477DE4', uuid: '4A1C37D1-06D2-4086-967F-6B39B5E21874', label: 'root' },
        { number: 2, startBytes: 34816 * 512, sizeBytes: 16384 * 512, type: '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F', uuid: '7973D4DE-F7BA-48DF-B3FD-275FCE40A5A0', label: null },
      ],
    });
  });

  it('reads an MBR table with the type byte as 0x.. and blkid-style PARTUUIDs', () => {
    const table = parseSfdiskJson(fixture('sfdisk-json-dos.json'));
    expect(table.label).toBe('dos');
    expect(table.id).toBe('0x5fbd175a');
    expect(table.partitions.map((p) => [p.number, p.type, p.uuid, p.startBytes])).toEqual([[1, '0x83', '5fbd175a-01', 2048 * 512], [2, '0x82', '5fbd175a-02', 22528 * 512]]);
  });

  it('tells a disk without a table from a failure', () => {
    expect(isSfdiskNoTable(1, 'sfdisk: sc-empty.img: does not contain a recognized partition table\n')).toBe(true);
    expect(isSfdiskNoTable(1, 'sfdisk: cannot open /dev/sdz: No such file or directory')).toBe(false);
  });
});
