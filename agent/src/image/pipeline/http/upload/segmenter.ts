import { createHash, type Hash } from 'node:crypto';

/** A segment cut from the stream, its bytes in `buffer[0, bytes)`, digests taken as it was filled. */
export interface FilledSegment {
  index: number;
  buffer: Buffer;
  bytes: number;
  md5: string;
  sha256: string;
}

export interface SegmenterOptions {
  /** Bytes per segment; every segment but the last has exactly this many. */
  segmentSize: number;
  /** How many segments the target has room for; one byte more fails with `tooMany()`'s error. */
  maxSegments: number;
  /** A buffer of at least `segmentSize` bytes for the next segment; may wait (the pool's backpressure). */
  acquire(): Promise<Buffer>;
  /** A segment is complete (full, or the last one at `end`); its buffer is the receiver's until it releases it. */
  emit(segment: FilledSegment): void;
  tooMany(): Error;
}

export interface Segmenter {
  /** Copies `chunk` into segments; resolves once it is copied (the chunk is the caller's again). */
  write(chunk: Uint8Array): Promise<void>;
  /** Emits the last, shorter segment; an empty stream becomes one empty segment (a store needs one object). */
  end(): void;
  /** Bytes written so far. */
  readonly bytes: number;
}

/**
 * Cuts an ordered stream of chunks into segments of exactly `segmentSize`
 * bytes (the last shorter), taking MD5 (what Swift and S3 check) and SHA-256
 * of each while the bytes are copied in, so each byte is read once here.
 */
export function createSegmenter(options: SegmenterOptions): Segmenter {
  const { segmentSize, maxSegments } = options;
  let current: { buffer: Buffer; fill: number; md5: Hash; sha256: Hash } | undefined;
  let index = 0;
  let bytes = 0;
  const emitCurrent = () => {
    const { buffer, fill, md5, sha256 } = current!;
    current = undefined;
    options.emit({ index, buffer, bytes: fill, md5: md5.digest('hex'), sha256: sha256.digest('hex') });
    index += 1;
  };
  return {
    get bytes() {
      return bytes;
    },
    async write(chunk) {
      let offset = 0;
      while (offset < chunk.length) {
        if (!current) {
          // Only when a byte needs it: a stream ending on a segment boundary takes no extra buffer.
          if (index >= maxSegments) throw options.tooMany();
          current = { buffer: await options.acquire(), fill: 0, md5: createHash('md5'), sha256: createHash('sha256') };
        }
        const take = Math.min(chunk.length - offset, segmentSize - current.fill);
        const part = chunk.subarray(offset, offset + take);
        current.buffer.set(part, current.fill);
        current.md5.update(part);
        current.sha256.update(part);
        current.fill += take;
        offset += take;
        bytes += take;
        if (current.fill === segmentSize) emitCurrent();
      }
    },
    end() {
      if (current) emitCurrent();
      else if (index === 0) {
        current = { buffer: Buffer.alloc(0), fill: 0, md5: createHash('md5'), sha256: createHash('sha256') };
        emitCurrent();
      }
    },
  };
}
