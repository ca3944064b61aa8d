import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CONFIG_DRIVE_MAX_BYTES, decodeConfigDriveBody, detectConfigDriveFormat, parseConfigDrive } from './config-drive.ts';
import { refusal } from '../../testing.ts';

// Made as Ironic makes them: genisoimage -J -r -V config-2 over openstack/latest, and mkfs.vfat -n CONFIG-2 with mcopy.
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8').trim();
const isoParam = fixture('configdrive-iso.gz.b64');
const vfatParam = fixture('configdrive-vfat.gz.b64');


describe('parseConfigDrive', () => {
  it('returns null when there is no config drive', () => {
    expect(parseConfigDrive(undefined)).toBeNull();
    expect(parseConfigDrive(null)).toBeNull();
    expect(parseConfigDrive('')).toBeNull();
  });

  it('hands a URL to the downloader as it is', () => {
    expect(parseConfigDrive(' https://swift.example.org/v1/AUTH_x/ironic/configdrive-node?temp_url_sig=abc ')).toEqual({
      kind: 'url', url: 'https://swift.example.org/v1/AUTH_x/ironic/configdrive-node?temp_url_sig=abc',
    });
  });

  it('decodes the base64 of a gzipped ISO 9660 config drive, as Ironic sends it', () => {
    const source = parseConfigDrive(isoParam);
    expect(source).toMatchObject({ kind: 'inline', format: 'iso9660', label: 'config-2' });
    expect(source?.kind === 'inline' && source.image.length).toBe(382976);
  });

  it('decodes a gzipped vfat config drive, base64 wrapped over several lines', () => {
    const wrapped = vfatParam.replace(/(.{76})/g, '$1\n');
    expect(parseConfigDrive(wrapped)).toMatchObject({ kind: 'inline', format: 'vfat', label: 'CONFIG-2' });
  });

  it('refuses text that is not base64, base64 that is not gzip, and gzip that is broken', () => {
    expect(refusal(() => parseConfigDrive('not base64 at all!')).message).toMatch(/neither an http\(s\) URL nor base64/);
    expect(refusal(() => parseConfigDrive(Buffer.from('plain text').toString('base64'))).message).toMatch(/not gzip-compressed/);
    const truncated = Buffer.from(isoParam, 'base64').subarray(0, 200).toString('base64');
    expect(refusal(() => parseConfigDrive(truncated)).message).toMatch(/not valid gzip data/);
  });

  it('refuses a drive that is neither ISO 9660 nor vfat', () => {
    const error = refusal(() => parseConfigDrive(gzipSync(Buffer.alloc(4096)).toString('base64')));
    expect(error).toMatchObject({ code: 'INGOT_CONFIGDRIVE_INVALID', status: 400 });
    expect(error.message).toMatch(/neither an ISO 9660 nor a vfat image/);
  });

  it('refuses a drive that decompresses past 64 MiB without inflating all of it', () => {
    const bomb = gzipSync(Buffer.alloc(CONFIG_DRIVE_MAX_BYTES + 1));
    expect(refusal(() => parseConfigDrive(bomb.toString('base64'))).message).toMatch(/more than 67108864 bytes/);
  });

  it('refuses a dict, which only the conductor turns into an ISO', () => {
    expect(refusal(() => parseConfigDrive({ meta_data: {} })).message).toMatch(/got object/);
  });
});

describe('decodeConfigDriveBody', () => {
  const iso = Buffer.from(isoParam, 'base64');

  it('decodes a downloaded body in the inline form, base64 of gzip', () => {
    expect(decodeConfigDriveBody(Buffer.from(isoParam))).toMatchObject({ format: 'iso9660' });
  });

  it('takes a downloaded gzip stream or a raw image as it is', () => {
    expect(decodeConfigDriveBody(iso)).toMatchObject({ format: 'iso9660', label: 'config-2' });
    const raw = parseConfigDrive(vfatParam);
    expect(raw?.kind === 'inline' && decodeConfigDriveBody(raw.image)).toMatchObject({ format: 'vfat' });
  });
});

describe('detectConfigDriveFormat', () => {
  it('recognises nothing in an empty or blank image', () => {
    expect(detectConfigDriveFormat(Buffer.alloc(0))).toBeNull();
    expect(detectConfigDriveFormat(Buffer.alloc(40000))).toBeNull();
  });
});
