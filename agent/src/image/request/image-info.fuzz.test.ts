import fc from 'fast-check';
import { expect, it } from 'vitest';
import { fuzz } from '../../../../test/support/fuzz.ts';
import { mutated, oddString, oddValue, parsesOrRefuses, secret, withOwn } from '../../../../test/support/fuzz-inputs.ts';
import { validateImageDeploy } from '../../deploy/deploy-steps.ts';
import { parseImageInfo, type ImageInfo } from './image-info.ts';

/** Whole-disk and partition image_info as Ironic 21.4 builds them (ironic-conductor.md 4). */
const wholeDisk = {
  id: 'disk.img', urls: ['http://192.0.2.10:8080/images/disk.img'], disk_format: 'raw', container_format: 'bare',
  stream_raw_images: true, os_hash_algo: 'sha512', os_hash_value: 'e'.repeat(128), proxies: {}, no_proxy: null,
  node_uuid: '1be26c0b-03f2-4d2e-ae87-c02d7f33c123',
};
const partition = {
  ...wholeDisk, checksum: 'f'.repeat(32), image_type: 'partition', root_mb: 10240, swap_mb: 0, ephemeral_mb: 0,
  ephemeral_format: null, preserve_ephemeral: false, deploy_boot_mode: 'uefi', boot_option: 'local', disk_label: 'gpt',
  configdrive: 'H4sIAAAAAAAA/wMAAAAAAAAAAAA=',
};
const otherKeys = ['checksum', 'image_type', 'root_mb', 'image_server_auth_strategy', 'image_server_user', 'image_server_password', 'image_request_authorization'];

/** Field values near the valid ones: digests of every length and case, URLs and numbers in strings. */
const nearValue = fc.oneof(
  oddValue,
  fc.stringMatching(/^[0-9a-fA-F]{0,130}$/),
  fc.constantFrom('md5', 'sha256', 'SHA512', 'sha3_512', 'partition', 'whole-disk', 'http_basic', 'noauth', 'uefi', 'bios', 'gpt', 'msdos', '10', ' 7 ', '0'),
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
  fc.array(fc.oneof(fc.webUrl(), oddString), { maxLength: 3 }),
);

const codes = ['INGOT_INVALID_PARAMS', 'INGOT_CONFIGDRIVE_INVALID'] as const;
const namesTheField = /image_info|config drive|image server authentication/;

function validate(imageInfo: unknown, configdrive?: unknown) {
  return parsesOrRefuses(() => validateImageDeploy({ image_info: imageInfo, configdrive }, {
    session: { md5Allowed: true, recordPartitionUuids: () => undefined, cachedImage: undefined, recordCachedImage: () => undefined }, download: {} as never,
  }), codes, namesTheField);
}

/** What an accepted image_info must look like, whatever came in. */
function expectWellTyped(info: ImageInfo): void {
  expect(info.id.trim()).not.toBe('');
  expect(info.urls.length).toBeGreaterThan(0);
  for (const url of info.urls) expect(url).toMatch(/^https?:\/\/\S+$/i);
  expect(['value', 'file']).toContain(info.checksumSpec.kind);
  if (info.checksumSpec.kind === 'value') expect(info.checksumSpec.expected).toMatch(/^[0-9a-f]{32}([0-9a-f]{32}){0,3}$/);
  expect(typeof info.streamRawImages).toBe('boolean');
  if (info.imageType === 'partition') {
    expect(Number.isSafeInteger(info.partition!.rootMb) && info.partition!.rootMb > 0).toBe(true);
    for (const mb of [info.partition!.swapMb, info.partition!.ephemeralMb]) expect(Number.isSafeInteger(mb) && mb >= 0).toBe(true);
  } else {
    expect(info.partition).toBeNull();
  }
}

it('answers any decoded value given as image_info or configdrive with a deploy request or a 400 naming the field', async () => {
  await fuzz('validateImageDeploy on any value', 250, fc.property(oddValue, fc.option(oddValue, { nil: undefined }), (imageInfo, configdrive) => {
    validate(imageInfo, configdrive);
  }));
});

it('answers every mutation of a valid image_info with a well-typed ImageInfo or a 400 naming the field', async () => {
  await fuzz('parseImageInfo on mutated valid image_info', 450, fc.property(
    fc.constantFrom(wholeDisk, partition).chain((valid) => mutated(valid, otherKeys, nearValue)),
    (imageInfo) => {
      const outcome = parsesOrRefuses(() => parseImageInfo(imageInfo, { md5Allowed: true }), ['INGOT_INVALID_PARAMS'], /image_info/);
      if ('value' in outcome) expectWellTyped(outcome.value);
      validate(imageInfo);
    },
  ));
});

/** Where an image_info carries secrets: the image server's password and Authorization header, a signed URL's query, a proxy's userinfo. */
const plantSecret = (token: string) => fc.oneof(
  fc.constantFrom<[string, unknown]>(
    ['image_server_password', [token]], ['image_server_password', { value: token }], ['image_server_password', Number.NaN],
    ['image_request_authorization', [`Basic ${token}`]], ['image_request_authorization', { Authorization: token }],
    ['urls', [`https://h/i.img?temp_url_sig=${token} x`]], ['urls', [`ftp://u:${token}@h/i.img`]], ['urls', [`https://h/i.img?X-Amz-Signature=${token}&n=1`, 7]],
    ['urls', [{ url: `https://h/i.img?sig=${token}` }]], ['urls', `https://h/i.img?sig=${token}`],
    ['proxies', { http: [`http://u:${token}@proxy:3128`] }], ['proxies', { https: { url: `http://u:${token}@proxy` } }], ['proxies', `http://u:${token}@p`],
    ['checksum', `https://h/SHA256SUMS?sig=${token}`], ['os_hash_value', `https://h/SUMS?temp_url_sig=${token}`],
    ['configdrive', { user_data: token }], ['configdrive', `https://h/cd?sig=${token} `],
  ),
  fc.tuple(fc.constantFrom('image_server_password', 'image_request_authorization'), fc.oneof(fc.constant(token), fc.constant([token]), fc.constant({ [token]: 1 }))),
);

it('never repeats a password, an Authorization value or a signed URL\'s secret in the error it throws', async () => {
  await fuzz('image_info secrets stay out of error messages', 250, fc.property(
    secret.chain((token) => fc.tuple(fc.constant(token), fc.constantFrom<Record<string, unknown>>(wholeDisk, partition, { ...wholeDisk, image_server_auth_strategy: 'http_basic', image_server_user: 'u', image_server_password: 'p' }),
      fc.array(plantSecret(token), { minLength: 1, maxLength: 3 }), fc.option(fc.tuple(fc.constantFrom(...otherKeys), oddValue), { nil: undefined }))),
    ([token, valid, planted, other]) => {
      const imageInfo = withOwn(valid, other ? [...planted, other] : planted);
      const outcome = validate(imageInfo);
      if ('error' in outcome) {
        expect(outcome.error.message).not.toContain(token);
        expect(JSON.stringify(outcome.error)).not.toContain(token);
      }
    },
  ));
});
