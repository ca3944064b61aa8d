import { describe, expect, it } from 'vitest';
import { IngotError, MAX_SNAPSHOT_SEGMENTS } from '@ingot/protocol';
import { parseCaptureParams } from './capture-params.ts';

const MiB = 1024 * 1024;
const put = { type: 'http_put', url: 'http://127.0.0.1:8080/snap.zst' };

function refusal(params: Record<string, unknown>): IngotError {
  try {
    parseCaptureParams(params);
  } catch (error) {
    return error as IngotError;
  }
  throw new Error('expected a refusal');
}

describe('parseCaptureParams', () => {
  it('fills the defaults: the whole disk, 4 MiB frames, level 3, 4 retries', () => {
    expect(parseCaptureParams({ target: put })).toEqual({ device: null, rootDeviceHints: null, partitions: null, frameSize: 4 * MiB, level: 3, target: put, segmentRetries: 4 });
  });

  it('sorts and deduplicates partition numbers', () => {
    expect(parseCaptureParams({ target: put, partitions: [3, 1, 3] }).partitions).toEqual([1, 3]);
  });

  it.each([
    [{ frame_size: 3 * MiB + 1 }, /frame_size must be a multiple of 1 MiB/],
    [{ frame_size: 128 * MiB }, /frame_size/],
    [{ frame_size: 0 }, /frame_size/],
    [{ level: 0 }, /level must be an integer from 1 to 19/],
    [{ level: 20 }, /level/],
    [{ partitions: [0] }, /partitions must be a non-empty list of positive partition numbers/],
    [{ partitions: [] }, /partitions/],
    [{ partitions: '1' }, /partitions/],
    [{ device: 'sda' }, /device must be an absolute device path/],
    [{ target: { type: 'ftp', url: 'ftp://x' } }, /target\.type must be http_put, swift or s3/],
    [{ target: { type: 'http_put', url: 'file:///etc/passwd' } }, /target\.url must be an http or https URL/],
    [{ target: { type: 'http_put', url: 'not a url' } }, /target\.url is not a URL/],
    [{ target: { type: 'swift', segment_urls: ['http://x/1'], segment_size: MiB - 1 } }, /target\.segment_size must be an integer of at least 1048576/],
    [{ target: { type: 's3', part_urls: ['http://x/1'], segment_size: 4 * MiB } }, /target\.segment_size must be an integer of at least 5242880/],
    [{ target: { type: 's3', part_urls: [], segment_size: 5 * MiB } }, /target\.part_urls must be a non-empty list/],
    [{ target: { type: 'swift', segment_urls: ['http://x/1', 'gopher://x'], segment_size: MiB } }, /target\.segment_urls\[1\] must be an http or https URL/],
    [{ target: undefined }, /target must be an object/],
  ])('refuses %j with a 400 naming the field', (change, message) => {
    const error = refusal({ target: put, ...change });
    expect(error.code).toBe('INGOT_INVALID_PARAMS');
    expect(error.status).toBe(400);
    expect(error.message).toMatch(message);
  });

  it('refuses more segment URLs than a target may carry', () => {
    const urls = Array.from({ length: MAX_SNAPSHOT_SEGMENTS + 1 }, (_, i) => `http://x/${i}`);
    expect(refusal({ target: { type: 'swift', segment_urls: urls, segment_size: MiB } }).message).toMatch(/more than the 10000 a target may carry/);
  });

  it('never echoes a URL, which may carry a signature', () => {
    expect(refusal({ target: { type: 'http_put', url: 'ht!tp://x?temp_url_sig=SECRET' } }).message).not.toMatch(/SECRET/);
  });
});
