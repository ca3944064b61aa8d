import { describe, expect, it } from 'vitest';
import { IngotError } from '@ingot/protocol';
import { parseStrictBool } from '@ingot/protocol';
import { parseImageInfo } from './image-info.ts';

const SHA512 = 'e'.repeat(128);

/** A whole-disk image_info as Ironic 21.4's AgentDeploy.write_image builds it for an http image (ironic-conductor.md 4). */
const wholeDisk = {
  id: 'disk.img',
  urls: ['http://192.0.2.10:8080/images/disk.img'],
  disk_format: 'raw',
  container_format: 'bare',
  stream_raw_images: true,
  os_hash_algo: 'sha512',
  os_hash_value: SHA512,
  proxies: {},
  no_proxy: null,
  node_uuid: '1be26c0b-03f2-4d2e-ae87-c02d7f33c123',
};

/** A partition image_info, with the fields Ironic adds for partition images. */
const partition = {
  ...wholeDisk,
  id: 'cirros-0.6.2-x86_64-partition.img',
  checksum: 'f'.repeat(32),
  image_type: 'partition',
  kernel: 'http://192.0.2.10:8080/images/vmlinuz',
  ramdisk: 'http://192.0.2.10:8080/images/initrd',
  root_gb: 10,
  root_mb: 10240,
  swap_mb: 0,
  ephemeral_mb: 0,
  ephemeral_format: null,
  preserve_ephemeral: false,
  deploy_boot_mode: 'uefi',
  boot_option: 'local',
  configdrive: 'H4sIAAAAAAAA/wMAAAAAAAAAAAA=',
};

const options = { md5Allowed: true };

function failure(raw: unknown, opts = options): IngotError {
  try {
    parseImageInfo(raw, opts);
  } catch (error) {
    if (error instanceof IngotError) return error;
    throw error;
  }
  throw new Error('parseImageInfo accepted it');
}

describe('parseImageInfo', () => {
  it('reads a whole-disk image_info as Ironic sends it', () => {
    const info = parseImageInfo(wholeDisk, options);
    expect(info).toMatchObject({
      id: 'disk.img',
      urls: ['http://192.0.2.10:8080/images/disk.img'],
      imageType: 'whole-disk',
      diskFormat: 'raw',
      containerFormat: 'bare',
      streamRawImages: true,
      proxies: { http: null, https: null },
      noProxy: null,
      nodeUuid: '1be26c0b-03f2-4d2e-ae87-c02d7f33c123',
      partition: null,
      checksumSpec: { kind: 'value', algorithm: 'sha512', expected: SHA512, source: 'os_hash' },
    });
  });

  it('reads the partition fields of a partition image and keeps the legacy config drive', () => {
    const info = parseImageInfo(partition, options);
    expect(info.imageType).toBe('partition');
    expect(info.partition).toEqual({
      rootMb: 10240, swapMb: 0, ephemeralMb: 0, ephemeralFormat: null, preserveEphemeral: false,
      deployBootMode: 'uefi', bootOption: 'local', diskLabel: null,
    });
    expect(info.configdrive).toBe(partition.configdrive);
  });

  it('treats any image_type other than partition as whole-disk, as IPA does', () => {
    expect(parseImageInfo({ ...wholeDisk, image_type: 'whole-disk' }, options).imageType).toBe('whole-disk');
    expect(parseImageInfo({ ...wholeDisk, image_type: undefined }, options).imageType).toBe('whole-disk');
  });

  it('refuses an image_info without id or urls, or with an empty urls list, with 400 naming the field', () => {
    const { id: _id, ...noId } = wholeDisk;
    expect(failure(noId)).toMatchObject({ code: 'INGOT_INVALID_PARAMS', status: 400 });
    expect(failure(noId).message).toMatch(/image_info\.id/);
    expect(failure({ ...wholeDisk, urls: [] }).message).toMatch(/image_info\.urls must be a list with at least one element/);
    expect(failure({ ...wholeDisk, urls: 'http://x/disk.img' }).message).toMatch(/image_info\.urls/);
    expect(failure({ ...wholeDisk, urls: ['ftp://x/disk.img'] }).message).toMatch(/image_info\.urls\[0\]/);
    expect(failure(null).message).toMatch(/image_info must be an object/);
  });

  it('refuses an empty checksum and a half-given os_hash pair', () => {
    expect(failure({ ...wholeDisk, checksum: '' }).message).toMatch(/image_info\.checksum must be a non-empty string/);
    expect(failure({ ...wholeDisk, os_hash_value: undefined }).message).toMatch(/image_info\.os_hash_value/);
    expect(failure({ ...wholeDisk, os_hash_algo: '' }).message).toMatch(/image_info\.os_hash_algo/);
  });

  it('requires at least one usable checksum, and an MD5 one only when MD5 is allowed', () => {
    const { os_hash_algo: _a, os_hash_value: _v, ...noHash } = wholeDisk;
    expect(failure(noHash).message).toMatch(/needs a checksum/);
    expect(failure({ ...noHash, checksum: 'f'.repeat(32) }, { md5Allowed: false }).message).toMatch(/MD5 is not allowed/);
    expect(parseImageInfo({ ...noHash, checksum: 'f'.repeat(32) }, options).checksumSpec).toMatchObject({ algorithm: 'md5' });
    expect(parseImageInfo({ ...noHash, checksum: 'https://x/SHA256SUMS' }, { md5Allowed: false }).checksumSpec).toMatchObject({ kind: 'file' });
  });

  it('reads proxies, no_proxy and the image server credentials, and refuses basic auth without a password', () => {
    const info = parseImageInfo({
      ...wholeDisk,
      proxies: { http: 'http://proxy:3128', https: 'http://proxy:3129' },
      no_proxy: '.example.org,192.0.2.0/24',
      image_server_auth_strategy: 'http_basic',
      image_server_user: 'ironic',
      image_server_password: 's3cret',
      image_request_authorization: 'QmVhcmVyIHRva2Vu',
    }, options);
    expect(info).toMatchObject({
      proxies: { http: 'http://proxy:3128', https: 'http://proxy:3129' },
      noProxy: '.example.org,192.0.2.0/24',
      imageServerAuthStrategy: 'http_basic', imageServerUser: 'ironic', imageServerPassword: 's3cret',
      imageRequestAuthorization: 'QmVhcmVyIHRva2Vu',
    });
    expect(failure({ ...wholeDisk, image_server_auth_strategy: 'http_basic', image_server_user: 'ironic' }).message)
      .toMatch(/image_info\.image_server_password/);
    expect(failure({ ...wholeDisk, proxies: ['http://proxy'] }).message).toMatch(/image_info\.proxies/);
    expect(failure({ ...wholeDisk, proxies: { http: 3128 } }).message).toMatch(/image_info\.proxies\.http/);
  });

  it('refuses partition images without root_mb or with malformed sizes, flags and modes', () => {
    const { root_mb: _r, ...noRoot } = partition;
    expect(failure(noRoot).message).toMatch(/image_info\.root_mb is required/);
    expect(failure({ ...partition, root_mb: 0 }).message).toMatch(/image_info\.root_mb must be positive/);
    expect(failure({ ...partition, swap_mb: -1 }).message).toMatch(/image_info\.swap_mb/);
    expect(failure({ ...partition, ephemeral_mb: 1.5 }).message).toMatch(/image_info\.ephemeral_mb/);
    expect(failure({ ...partition, preserve_ephemeral: 'maybe' }).message).toMatch(/image_info\.preserve_ephemeral/);
    expect(failure({ ...partition, deploy_boot_mode: 'legacy' }).message).toMatch(/image_info\.deploy_boot_mode/);
    expect(failure({ ...partition, disk_label: 'dos' }).message).toMatch(/image_info\.disk_label/);
  });

  it('accepts sizes as decimal strings and booleans in the spellings oslo accepts', () => {
    const info = parseImageInfo({ ...partition, root_mb: '2048', swap_mb: '512', preserve_ephemeral: 'True', disk_label: 'gpt' }, options);
    expect(info.partition).toMatchObject({ rootMb: 2048, swapMb: 512, preserveEphemeral: true, diskLabel: 'gpt' });
    expect([parseStrictBool('on'), parseStrictBool('0'), parseStrictBool('Y'), parseStrictBool('nope')]).toEqual([true, false, true, undefined]);
  });
});

describe('parseImageInfo on hostile values (fuzz findings)', () => {
  const deep = (depth: number): unknown => JSON.parse(`${'['.repeat(depth)}"x"${']'.repeat(depth)}`);
  const refusal = (raw: unknown) => {
    try {
      parseImageInfo(raw, options);
    } catch (error) {
      return error as IngotError;
    }
    throw new Error('expected a refusal');
  };

  it('refuses a field holding a value nested thousands deep with a 400 naming the field, not a RangeError', () => {
    for (const field of ['node_uuid', 'stream_raw_images', 'root_mb', 'disk_label']) {
      const error = refusal({ ...partition, [field]: deep(20_000) });
      expect(error).toBeInstanceOf(IngotError);
      expect(error).toMatchObject({ code: 'INGOT_INVALID_PARAMS', status: 400 });
      expect(error.message).toContain(`image_info.${field}`);
    }
  });

  it('never repeats the image server password, the Authorization value or a signed URL\'s signature in its 400', () => {
    const token = 'S3cr3tS3cr3tS3cr3tS3cr3tS3cr3t';
    for (const bad of [{ image_server_password: { [token]: 1 } }, { image_server_password: [token] }, { image_request_authorization: [`Basic ${token}`] },
      { urls: [`https://h/i.img?temp_url_sig=${token} x`] }, { proxies: { http: [`http://u:${token}@proxy:3128`] } }, { os_hash_algo: undefined, os_hash_value: undefined, checksum: `ftp://h/SUMS?sig=${token}` }]) {
      const error = refusal({ ...wholeDisk, ...bad });
      expect(error.code).toBe('INGOT_INVALID_PARAMS');
      expect(error.message).not.toContain(token);
    }
  });
});

describe('parseImageInfo on a sparse urls list (fuzz finding)', () => {
  it('refuses a missing URL in a sparse list naming urls[0], instead of returning it as undefined', () => {
    // eslint-disable-next-line no-sparse-arrays
    expect(() => parseImageInfo({ ...wholeDisk, urls: [, 'http://h/x.img'] }, options)).toThrow(/image_info.urls\[0\] must be an http\(s\) URL, got undefined/);
  });
});

