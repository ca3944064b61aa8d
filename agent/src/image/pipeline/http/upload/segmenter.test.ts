import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SegmentPool } from './segment-pool.ts';
import { createSegmenter, type FilledSegment } from './segmenter.ts';

const md5 = (data: Uint8Array) => createHash('md5').update(data).digest('hex');

/** A segmenter whose emitted segments are copied out and their buffers released at once. */
function collecting(segmentSize: number, maxSegments = 1000) {
  const pool = new SegmentPool(3, segmentSize);
  const segments: (Omit<FilledSegment, 'buffer'> & { data: Buffer })[] = [];
  const segmenter = createSegmenter({
    segmentSize, maxSegments, acquire: () => pool.acquire(), tooMany: () => new Error('too many'),
    emit: ({ buffer, ...segment }) => {
      segments.push({ ...segment, data: Buffer.from(buffer.subarray(0, segment.bytes)) });
      if (buffer.length > 0) pool.release(buffer);
    },
  });
  return { segmenter, segments, pool };
}

describe('createSegmenter', () => {
  it('cuts a stream written in odd chunks into segments of exactly the size, the last shorter, with their MD5 and SHA-256', async () => {
    const data = randomBytes(10_000);
    const { segmenter, segments } = collecting(1_024);
    for (let offset = 0; offset < data.length; offset += 777) await segmenter.write(data.subarray(offset, offset + 777));
    segmenter.end();
    expect(segments.map((segment) => segment.bytes)).toEqual([...Array(9).fill(1_024), 10_000 - 9 * 1_024]);
    expect(segments.map((segment) => segment.index)).toEqual([...Array(10).keys()]);
    expect(Buffer.concat(segments.map((segment) => segment.data)).equals(data)).toBe(true);
    for (const segment of segments) {
      expect(segment.md5).toBe(md5(segment.data));
      expect(segment.sha256).toBe(createHash('sha256').update(segment.data).digest('hex'));
    }
    expect(segmenter.bytes).toBe(10_000);
  });

  it('emits no extra empty segment when the stream ends on a segment boundary', async () => {
    const { segmenter, segments, pool } = collecting(100);
    await segmenter.write(Buffer.alloc(300, 7));
    segmenter.end();
    expect(segments.map((segment) => segment.bytes)).toEqual([100, 100, 100]);
    expect(pool.inUse).toBe(0);
  });

  it('makes an empty stream one empty segment, since a store needs an object', () => {
    const { segmenter, segments } = collecting(100);
    segmenter.end();
    expect(segments).toEqual([{ index: 0, bytes: 0, md5: md5(Buffer.alloc(0)), sha256: createHash('sha256').digest('hex'), data: Buffer.alloc(0) }]);
  });

  it('refuses the first byte beyond the segments the target has room for, and not one byte sooner', async () => {
    const { segmenter, segments } = collecting(100, 2);
    await segmenter.write(Buffer.alloc(200));
    await expect(segmenter.write(Buffer.alloc(1))).rejects.toThrow('too many');
    expect(segments).toHaveLength(2);
  });

  it('waits for a free buffer when all are held by segments still being sent: the backpressure', async () => {
    const pool = new SegmentPool(2, 10);
    const held: Buffer[] = [];
    const segmenter = createSegmenter({ segmentSize: 10, maxSegments: 100, acquire: () => pool.acquire(), tooMany: () => new Error('too many'), emit: ({ buffer }) => { held.push(buffer); } });
    await segmenter.write(Buffer.alloc(20));
    let done = false;
    const writing = segmenter.write(Buffer.alloc(5)).then(() => { done = true; });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(done).toBe(false);
    pool.release(held[0]!);
    await writing;
    expect(done).toBe(true);
  });

  it('copies the chunk: overwriting it after the write resolved changes no segment', async () => {
    const { segmenter, segments } = collecting(8);
    const chunk = Buffer.from('abcdefghij');
    await segmenter.write(chunk);
    chunk.fill(0);
    segmenter.end();
    expect(segments.map((segment) => segment.data.toString())).toEqual(['abcdefgh', 'ij']);
  });
});
