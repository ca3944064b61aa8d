import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { fuzz } from '../../../../test/support/fuzz.ts';
import { oddValue, parsesOrRefuses } from '../../../../test/support/fuzz-inputs.ts';
import { decodeConfigDriveBody, parseConfigDrive } from './config-drive.ts';

/** A minimal ISO 9660 (primary volume descriptor at sector 16) or vfat boot sector with this label. */
function image(format: 'iso9660' | 'vfat16' | 'vfat32', label: string, tail: Uint8Array): Buffer {
  if (format === 'iso9660') {
    const iso = Buffer.alloc(32768 + 2048 + tail.length);
    iso[32768] = 1;
    iso.write('CD001', 32769, 'latin1');
    iso.write(label.padEnd(32, ' '), 32768 + 40, 'latin1');
    iso.set(tail, 32768 + 2048);
    return iso;
  }
  const fat = Buffer.alloc(512 + tail.length);
  const typeAt = format === 'vfat16' ? 54 : 82;
  fat.write(format === 'vfat16' ? 'FAT16   ' : 'FAT32   ', typeAt, 'latin1');
  fat.write(label.padEnd(11, ' '), typeAt - 11, 'latin1');
  fat[510] = 0x55;
  fat[511] = 0xaa;
  fat.set(tail, 512);
  return fat;
}

const label = fc.stringMatching(/^[A-Za-z0-9_-]{1,11}$/).filter((l) => l !== 'NO');
const codes = ['INGOT_CONFIGDRIVE_INVALID'] as const;

it('takes any value as the configdrive parameter: nothing, a URL, a decoded image, or INGOT_CONFIGDRIVE_INVALID naming the config drive', async () => {
  await fuzz('parseConfigDrive on any value', 250, fc.property(
    fc.oneof(
      oddValue,
      fc.base64String({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('base64')),
      fc.uint8Array({ maxLength: 300 }).map((bytes) => gzipSync(bytes).toString('base64')),
      fc.uint8Array({ maxLength: 300 }).map((bytes) => gzipSync(bytes).toString('base64').slice(0, -4)),
    ),
    (value) => {
      const outcome = parsesOrRefuses(() => parseConfigDrive(value), codes, /config drive/);
      if ('value' in outcome && outcome.value?.kind === 'inline') expect(['iso9660', 'vfat']).toContain(outcome.value.format);
    },
  ));
});

it('decodes every ISO 9660 or vfat image it is handed, raw, gzipped or base64 of gzip, with its label, and refuses other bytes', async () => {
  await fuzz('config drive image round trip and any downloaded body', 150, fc.property(
    fc.constantFrom('iso9660', 'vfat16', 'vfat32') as fc.Arbitrary<'iso9660' | 'vfat16' | 'vfat32'>, label, fc.uint8Array({ maxLength: 64 }),
    fc.constantFrom('raw', 'gzip', 'base64'), fc.uint8Array({ maxLength: 2048 }),
    (format, name, tail, wrapping, junk) => {
      const raw = image(format, name, tail);
      const body = wrapping === 'raw' ? raw : wrapping === 'gzip' ? gzipSync(raw) : Buffer.from(gzipSync(raw).toString('base64'));
      const decoded = decodeConfigDriveBody(body);
      expect(decoded).toMatchObject({ format: format === 'iso9660' ? 'iso9660' : 'vfat', label: name });
      expect(decoded.image.equals(raw)).toBe(true);
      const inline = parseConfigDrive(gzipSync(raw).toString('base64'));
      expect(inline).toMatchObject({ kind: 'inline', label: name });
      parsesOrRefuses(() => decodeConfigDriveBody(Buffer.from(junk)), codes, /config drive/);
    },
  ));
});
