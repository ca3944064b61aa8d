import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { fuzz } from '../../../../../../test/support/fuzz.ts';
import { describeStoreReason } from './put-request.ts';
import { SegmentPool } from './segment-pool.ts';
import { createSegmenter } from './segmenter.ts';

it('cuts any stream, chunked any way, into exact segments that add up to it, or refuses the byte past the last URL', async () => {
  await fuzz('createSegmenter: segments of exactly segment_size, the last shorter, digests right, the URL limit exact', 1_000, fc.asyncProperty(
    fc.uint8Array({ maxLength: 3_000 }),
    fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 8 }),
    fc.integer({ min: 1, max: 600 }),
    fc.integer({ min: 1, max: 12 }),
    async (data, chunkSizes, segmentSize, maxSegments) => {
      const pool = new SegmentPool(3, segmentSize);
      const segments: { index: number; bytes: number; md5: string; data: Buffer }[] = [];
      const segmenter = createSegmenter({
        segmentSize, maxSegments, acquire: () => pool.acquire(), tooMany: () => new Error('too many'),
        emit: ({ buffer, index, bytes, md5 }) => {
          segments.push({ index, bytes, md5, data: Buffer.from(buffer.subarray(0, bytes)) });
          if (buffer.length > 0) pool.release(buffer);
        },
      });
      const fits = data.length <= segmentSize * maxSegments;
      let refused = false;
      for (let offset = 0, turn = 0; offset < data.length; turn += 1) {
        const size = chunkSizes[turn % chunkSizes.length]!;
        const chunk = Uint8Array.from(data.subarray(offset, offset + size));
        try {
          await segmenter.write(chunk);
        } catch {
          refused = true;
          break;
        }
        chunk.fill(0xff);
        offset += size;
      }
      expect(refused).toBe(!fits);
      if (!fits) {
        expect(segments).toHaveLength(maxSegments);
        return;
      }
      segmenter.end();
      expect(Buffer.concat(segments.map((segment) => segment.data)).equals(Buffer.from(data))).toBe(true);
      expect(segments.map((segment) => segment.index)).toEqual([...segments.keys()]);
      segments.forEach((segment, index) => {
        if (index < segments.length - 1) expect(segment.bytes).toBe(segmentSize);
        expect(segment.md5).toBe(createHash('md5').update(segment.data).digest('hex'));
      });
      expect(pool.allocated).toBeLessThanOrEqual(3);
    },
  ));
});

it('never lets a signature of the URL through in the store\'s reason, wherever the store echoed it', async () => {
  await fuzz('describeStoreReason blanks every signature of the URL in any answer body', 1_000, fc.property(
    fc.stringMatching(/^[A-Za-z0-9%/+=_-]{8,64}$/),
    fc.string({ maxLength: 80 }),
    fc.string({ maxLength: 80 }),
    fc.constantFrom('temp_url_sig', 'X-Amz-Signature', 'Signature'),
    fc.constantFrom('', '<Error><Code>', '</Code><Message>', '<html><p>', '<SignatureProvided>'),
    (signature, before, after, name, markup) => {
      const url = new URL(`http://127.0.0.1:1/c/o?${name}=${signature}&temp_url_expires=1`);
      const decoded = url.searchParams.get(name)!;
      for (const echoed of [signature, decoded]) {
        const reason = describeStoreReason(`${before}${markup}${echoed}${after}`, url);
        if (decoded.length >= 4) expect(reason).not.toContain(decoded);
        expect(reason).not.toContain(signature);
      }
    },
  ));
});
