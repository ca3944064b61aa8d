import type { Readable, Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { IngotError } from '@ingot/protocol';
import type { System } from '../../../system/system.ts';
import type { ImageSink } from '../sink/image-sink.ts';

/**
 * Decompressors that write into the image sink. Input arrives in chunks of
 * shared memory, in order; each `feed` resolves once the decoder is done with
 * that chunk's memory (taken or copied), which is the socket's backpressure.
 */
export interface Decoder {
  /** Decodes `chunk` (a view of a SharedArrayBuffer); rejects once the stream proved corrupt or the sink failed. */
  feed(chunk: Uint8Array): Promise<void>;
  /** Input is complete: flushes everything into the sink; rejects when the stream was truncated or corrupt. */
  end(): Promise<void>;
  /** Stops decoding for good; resolves once nothing can write into the sink's slots any more. */
  close(): Promise<void>;
  /** zstd frames seen so far, for a decoder that walks frames (parallel-zstd-decoder.ts). */
  readonly frames?: number;
}

function corrupt(kind: string, error: unknown): IngotError {
  return new IngotError('INGOT_IMAGE_FORMAT', { details: `the ${kind} stream is corrupt or truncated: ${(error as Error).message ?? error}`, cause: error });
}

/**
 * gzip and xz run as Node streams (zlib in the libuv threadpool, xz as a
 * child process), so their output arrives in chunks that are copied into
 * slots; a 1 MiB chunkSize keeps the chunk count low (perf-limits.md 6.5).
 * Backpressure runs both ways: a busy pool stops the output loop, a full
 * input buffer pauses the socket.
 */
function createStreamDecoder(kind: string, input: Writable, output: Readable, sink: ImageSink, finished: Promise<void>): Decoder {
  let failure: Error | undefined;
  // Feeds waiting for the input side to drain; a failure must settle them, as 'drain' then never comes.
  const waiting = new Set<{ resolve: () => void; reject: (error: Error) => void }>();
  const fail = (error: Error) => {
    failure ??= error;
    for (const waiter of waiting) waiter.reject(failure);
    waiting.clear();
  };
  input.on('drain', () => {
    for (const waiter of waiting) waiter.resolve();
    waiting.clear();
  });
  input.on('error', (error) => fail(corrupt(kind, error)));
  sink.onFailure(fail);
  const pumped = (async () => {
    for await (const chunk of output) await sink.append(chunk as Buffer);
  })().catch((error: unknown) => {
    fail(error instanceof IngotError ? error : corrupt(kind, error));
    sink.fail(failure);
  });
  return {
    feed(chunk) {
      if (failure) return Promise.reject(failure);
      // Copied: the caller reuses the chunk's memory as soon as this resolves.
      if (input.write(Buffer.from(chunk))) return Promise.resolve();
      return new Promise<void>((resolve, reject) => waiting.add({ resolve, reject }));
    },
    async end() {
      input.end();
      await pumped;
      await finished.catch((error: unknown) => fail(corrupt(kind, error)));
      if (failure) throw failure;
    },
    async close() {
      input.destroy();
      output.destroy();
      // The output loop copies into slots on the main thread: once it stopped, nothing else will.
      await pumped;
    },
  };
}

export function createGzipDecoder(sink: ImageSink): Decoder {
  const gunzip = createGunzip({ chunkSize: 1024 * 1024 });
  const finished = new Promise<void>((resolve, reject) => {
    gunzip.on('end', resolve);
    gunzip.on('error', reject);
  });
  return createStreamDecoder('gzip', gunzip, gunzip, sink, finished);
}

/**
 * xz through the `xz` tool: Node has no xz, and liblzma's single-threaded
 * decoder is what the CLI runs anyway. Spawned through System.spawn, which
 * streams: System.run would buffer the whole output.
 */
export function createXzDecoder(sink: ImageSink, system: System): Decoder {
  const xz = system.spawn(['xz', '--decompress', '--stdout']);
  const decoder = createStreamDecoder('xz', xz.stdin, xz.stdout, sink, xz.exited);
  return {
    ...decoder,
    close: () => {
      xz.kill();
      return decoder.close();
    },
  };
}
