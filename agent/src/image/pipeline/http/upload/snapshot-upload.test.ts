import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { openSnapshotUpload } from './snapshot-upload.ts';

const log = pino({ level: 'silent' });

describe('openSnapshotUpload', () => {
  it('refuses a target it cannot serve before any request, each with a 400 saying what to give', () => {
    const cases: [unknown, RegExp][] = [
      [{ type: 'swift', segment_urls: [], segment_size: 1024 }, /gave no segment URLs/],
      [{ type: 's3', part_urls: ['http://h/a'], segment_size: 0 }, /segment_size must be a positive integer/],
      [{ type: 'swift', segment_urls: ['http://h/a', 'https://h/b?temp_url_sig=s'], segment_size: 1024 }, /segment URL 1 is https: but segment URL 0 is http:/],
      [{ type: 'http_put', url: 'file:///etc/passwd' }, /is not http or https/],
      [{ type: 'ftp', url: 'x' }, /unknown target type "ftp"; use http_put, swift or s3/],
    ];
    for (const [target, message] of cases) {
      expect(() => openSnapshotUpload({ target: target as never, log }), JSON.stringify(target)).toThrow(message);
    }
    expect(() => openSnapshotUpload({ target: { type: 'http_put', url: 'http://h/a' }, retries: -1, log })).toThrow(/retries must be an integer from 0 to 100/);
  });
});
