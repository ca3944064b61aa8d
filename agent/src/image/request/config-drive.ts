import { gunzipSync } from 'node:zlib';
import { IngotError } from '@ingot/protocol';

/**
 * IPA's `configdrive` parameter (ipa-protocol.md 9.6): an http(s) URL, or
 * inline base64 of a gzip of an ISO 9660 or vfat image, at most 64 MiB once
 * decompressed. Ironic builds the ISO itself and always sends the inline form
 * or a URL; `prepare_image` takes it from its own parameter, else from
 * `image_info.configdrive`.
 */
export const CONFIG_DRIVE_MAX_BYTES = 64 * 1024 * 1024;

export type ConfigDriveFormat = 'iso9660' | 'vfat';

export interface ConfigDriveImage {
  image: Buffer;
  format: ConfigDriveFormat;
  /** The volume label (`config-2` from Ironic), or null when the image has none. */
  label: string | null;
}

export type ConfigDriveSource = { kind: 'url'; url: string } | ({ kind: 'inline' } & ConfigDriveImage);

function invalid(details: string, cause?: unknown): never {
  throw new IngotError('INGOT_CONFIGDRIVE_INVALID', { details, cause });
}

const ascii = (bytes: Uint8Array, start: number, length: number) => Buffer.from(bytes.subarray(start, start + length)).toString('latin1');

/**
 * ISO 9660: a primary volume descriptor (type 1, `CD001`) at sector 16 of
 * 2048 bytes (ECMA-119 8.4); its volume identifier is 32 bytes at offset 40.
 * vfat: a boot sector ending in 55 AA whose BPB names FAT12/FAT16 at offset
 * 54 or FAT32 at offset 82, the label 11 bytes before the type.
 */
export function detectConfigDriveFormat(image: Uint8Array): { format: ConfigDriveFormat; label: string | null } | null {
  if (image.length >= 32768 + 72 && ascii(image, 32769, 5) === 'CD001') {
    return { format: 'iso9660', label: ascii(image, 32768 + 40, 32).trim() || null };
  }
  if (image.length >= 512 && image[510] === 0x55 && image[511] === 0xaa) {
    const labelAt = ascii(image, 54, 5) === 'FAT12' || ascii(image, 54, 5) === 'FAT16' ? 43 : ascii(image, 82, 5) === 'FAT32' ? 71 : -1;
    if (labelAt >= 0) {
      const label = ascii(image, labelAt, 11).trim();
      return { format: 'vfat', label: label && label !== 'NO NAME' ? label : null };
    }
  }
  return null;
}

const GZIP_MAGIC = [0x1f, 0x8b];

function gunzipCapped(compressed: Buffer): Buffer {
  try {
    return gunzipSync(compressed, { maxOutputLength: CONFIG_DRIVE_MAX_BYTES });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) {
      return invalid(`the config drive decompresses to more than ${CONFIG_DRIVE_MAX_BYTES} bytes (64 MiB), IPA's limit`, error);
    }
    return invalid(`the config drive is not valid gzip data: ${(error as Error).message}`, error);
  }
}

function recognise(image: Buffer): ConfigDriveImage {
  const detected = detectConfigDriveFormat(image);
  if (!detected) invalid(`the config drive (${image.length} bytes) is neither an ISO 9660 nor a vfat image`);
  return { image, ...detected };
}

/** Base64 as Python's b64decode takes it, whitespace allowed; Node's decoder would silently skip anything else. */
function decodeBase64(text: string): Buffer {
  const compact = text.replace(/\s+/g, '');
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) {
    invalid('the config drive is neither an http(s) URL nor base64 text');
  }
  return Buffer.from(compact, 'base64');
}

/**
 * Parses the parameter: null when there is no config drive, the URL for the
 * downloader, or the decoded image. Inline data must be gzip, as IPA
 * requires; an image over 64 MiB, bad base64, bad gzip, or content that is
 * neither ISO 9660 nor vfat each fail with their own message.
 */
export function parseConfigDrive(value: unknown): ConfigDriveSource | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') invalid(`the config drive must be a URL or base64 text, got ${typeof value}; the conductor builds the ISO from a dict`);
  const text = value.trim();
  if (/^https?:\/\//i.test(text)) return { kind: 'url', url: text };
  const compressed = decodeBase64(text);
  if (!GZIP_MAGIC.every((byte, i) => compressed[i] === byte)) invalid('the config drive decodes from base64 but is not gzip-compressed');
  return { kind: 'inline', ...recognise(gunzipCapped(compressed)) };
}

/**
 * Decodes a config drive fetched from its URL. IPA base64-decodes the body
 * and gunzips it, and uses the bytes as they are when they are not base64
 * (9.6); we decide by content instead of by failure: a raw ISO or vfat image
 * as is, a gzip stream gunzipped, anything else as base64 of gzip.
 */
export function decodeConfigDriveBody(body: Buffer): ConfigDriveImage {
  if (body.length > CONFIG_DRIVE_MAX_BYTES * 2) invalid(`the config drive download is ${body.length} bytes, far over the 64 MiB limit`);
  if (detectConfigDriveFormat(body)) {
    if (body.length > CONFIG_DRIVE_MAX_BYTES) invalid(`the config drive is ${body.length} bytes, more than 64 MiB`);
    return recognise(body);
  }
  if (GZIP_MAGIC.every((byte, i) => body[i] === byte)) return recognise(gunzipCapped(body));
  const compressed = decodeBase64(body.toString('latin1'));
  if (!GZIP_MAGIC.every((byte, i) => compressed[i] === byte)) invalid('the downloaded config drive decodes from base64 but is not gzip-compressed');
  return recognise(gunzipCapped(compressed));
}
