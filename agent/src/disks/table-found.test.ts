import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diskIdentifierFromMbr, partitionUuidsResult } from './partition-layout.ts';
import { readTableFound } from './table-found.ts';

/** The first two sectors of disks sgdisk and sfdisk labelled (fixtures/README.md). */
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));

describe('readTableFound', () => {
  it('finds GPT and its disk GUID as blkid prints PTUUID, on 512- and 4096-byte sectors', () => {
    expect(readTableFound(fixture('head-gpt-512.bin'), 512)).toEqual({ partitionTable: 'gpt', diskGuid: '6f0c1b2a-3d4e-4f50-8a9b-0c1d2e3f4a5b' });
    expect(readTableFound(fixture('head-gpt-4096.bin'), 4096)).toEqual({ partitionTable: 'gpt', diskGuid: '11223344-5566-7788-99aa-bbccddeeff00' });
  });

  it('finds an msdos table, which has no GUID', () => {
    expect(readTableFound(fixture('head-msdos-512.bin'), 512)).toEqual({ partitionTable: 'msdos', diskGuid: null });
  });

  it('finds nothing on zeros, on a protective MBR whose GPT header is gone, or on a boot sector that is no table', () => {
    const none = { partitionTable: null, diskGuid: null };
    expect(readTableFound(Buffer.alloc(1024), 512)).toEqual(none);
    const noHeader = Buffer.from(fixture('head-gpt-512.bin'));
    noHeader.fill(0, 512, 520);
    expect(readTableFound(noHeader, 512)).toEqual(none);
    // A GPT header looked for at the wrong sector size is not found either.
    expect(readTableFound(fixture('head-gpt-4096.bin'), 512)).toEqual(none);
    const fatBootSector = Buffer.alloc(1024);
    fatBootSector.set([0xeb, 0x3c, 0x90], 0);
    fatBootSector.fill(0x41, 446, 510); // code and data where the entries would be
    fatBootSector.set([0x55, 0xaa], 510);
    expect(readTableFound(fatBootSector, 512)).toEqual(none);
  });
});

describe('the whole-disk answer of get_partition_uuids', () => {
  it('keeps IPA\'s root uuid, 0x00000000 on a GPT disk as Ironic stores it, and adds the table and the GPT disk GUID', () => {
    const gpt = fixture('head-gpt-512.bin');
    expect(partitionUuidsResult({ imageType: 'whole-disk', diskIdentifier: diskIdentifierFromMbr(gpt), table: readTableFound(gpt, 512) })).toEqual({
      'root uuid': '0x00000000', partition_table: 'gpt', disk_guid: '6f0c1b2a-3d4e-4f50-8a9b-0c1d2e3f4a5b',
    });
    const msdos = fixture('head-msdos-512.bin');
    expect(partitionUuidsResult({ imageType: 'whole-disk', diskIdentifier: diskIdentifierFromMbr(msdos), table: readTableFound(msdos, 512) })).toEqual({
      'root uuid': '0x1a2b3c4d', partition_table: 'msdos', disk_guid: null,
    });
  });
});
