import { describe, expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import { fakeSnapshotManifest } from '../testing/fake-snapshot.ts';
import { buildImageInfo, imageIdOf, parseImageChecksum, snapshotDeployImage } from './image-info.ts';

const NODE = '0f8e3c6a-1111-4222-8333-944455556666';
const HEX64 = 'ab'.repeat(32);

describe('parseImageChecksum', () => {
  it('reads algorithm:hex as the os_hash pair, lower-cased', () => {
    expect(parseImageChecksum(`SHA256:${HEX64.toUpperCase()}`)).toEqual({ algorithm: 'sha256', value: HEX64 });
  });

  it('reads algorithm:URL as an os_hash pair whose value is a checksum file', () => {
    expect(parseImageChecksum('sha512:https://images.example/SHA512SUMS')).toEqual({ algorithm: 'sha512', value: 'https://images.example/SHA512SUMS' });
  });

  it('reads a bare URL and a bare hex value as the legacy checksum', () => {
    expect(parseImageChecksum('http://images.example/SHA256SUMS')).toEqual({ url: 'http://images.example/SHA256SUMS' });
    expect(parseImageChecksum(HEX64)).toEqual({ legacy: HEX64 });
  });

  it.each([['sha256:not-hex'], ['abc'], ['']])('refuses %j with a usage error', (text) => {
    let caught: unknown;
    try { parseImageChecksum(text); } catch (error) { caught = error; }
    expect(isIngotError(caught, 'INGOT_CONFIG_INVALID')).toBe(true);
  });
});

describe('buildImageInfo', () => {
  it('builds image_info as Ironic 21.4 does for a whole-disk http image with an os_hash pair', () => {
    expect(buildImageInfo({ url: 'http://192.0.2.1:8080/images/disk.img.zst', checksum: { algorithm: 'sha256', value: HEX64 } }, NODE)).toEqual({
      id: 'disk.img.zst', urls: ['http://192.0.2.1:8080/images/disk.img.zst'], disk_format: 'raw', container_format: 'bare',
      stream_raw_images: true, os_hash_algo: 'sha256', os_hash_value: HEX64, node_uuid: NODE,
    });
  });

  it('sends a legacy checksum or checksum URL as checksum, and proxies with no_proxy only when configured', () => {
    const info = buildImageInfo({
      url: 'https://images.example/a.qcow2', checksum: { url: 'https://images.example/SHA256SUMS' }, diskFormat: 'qcow2', containerFormat: null,
      proxies: { http: 'http://proxy:3128', https: '' }, noProxy: '.internal',
    }, NODE);
    expect(info).toMatchObject({ checksum: 'https://images.example/SHA256SUMS', disk_format: 'qcow2', container_format: null, proxies: { http: 'http://proxy:3128' }, no_proxy: '.internal' });
    expect(info).not.toHaveProperty('os_hash_algo');
    expect(buildImageInfo({ url: 'http://h/x', checksum: { legacy: HEX64 }, noProxy: '*' }, NODE)).not.toHaveProperty('no_proxy');
  });

  it('refuses an image URL the agent cannot download', () => {
    expect(() => buildImageInfo({ url: 'file:///srv/disk.img', checksum: { legacy: HEX64 } }, NODE)).toThrow(/must be http or https/);
  });

  it('names the image after the last path segment of its URL', () => {
    expect(imageIdOf('http://h/a/b/ubuntu%2024.img?x=1')).toBe('ubuntu 24.img');
  });
});

describe('snapshotDeployImage', () => {
  it('deploys a snapshot as raw with the stored object\'s sha256 and adds image_info.ingot_snapshot from its manifest', () => {
    const manifest = fakeSnapshotManifest();
    const info = buildImageInfo(snapshotDeployImage(manifest, 'http://127.0.0.1:8080/v1/AUTH_t/snapshots/node.img.zst?temp_url_sig=s&temp_url_expires=1'), NODE);
    expect(info).toMatchObject({
      id: 'node.img.zst', disk_format: 'raw', os_hash_algo: 'sha256', os_hash_value: manifest.image.sha256,
      ingot_snapshot: { raw_bytes: manifest.raw.bytes, raw_sha256: manifest.raw.sha256, image_bytes: manifest.image.bytes, frames: 16, frame_size: 4 * 1024 * 1024 },
    });
    expect(buildImageInfo({ url: 'http://x/y', checksum: { legacy: HEX64 } }, NODE)).not.toHaveProperty('ingot_snapshot');
  });
});
