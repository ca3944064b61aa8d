import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { IngotError } from '@ingot/protocol';
// zstd-napi's low-level binding is CommonJS with no export names Node can see from ESM.
import zstdBinding from 'zstd-napi/binding.js';
import type { ImageSink } from './image-sink.ts';

/**
 * Decompressors that write into the image sink. `push` never blocks: it takes
 * what it can and says when the socket must pause; the caller keeps the rest.
 */
export interface Decoder {
  /** Decodes from `input`; `consumed` may be short when no slot is free. `pause` asks the socket to stop reading. */
  push(input: Uint8Array): { consumed: number; pause: boolean };
  /** Input is complete: flushes everything into the sink; throws when the stream was truncated or corrupt. */
  end(): Promise<void>;
  /** Registers what to call when a paused decoder can take input again. */
  onReady(listener: () => void): void;
  close(): void;
}

const EMPTY = new Uint8Array(0);

function corrupt(kind: string, error: unknown): IngotError {
  return new IngotError('INGOT_IMAGE_FORMAT', { details: `the ${kind} stream is corrupt or truncated: ${(error as Error).message ?? error}`, cause: error });
}

/**
 * zstd through zstd-napi's low-level DCtx, straight into the slots: 27-35%
 * faster than its stream class, which also ignores backpressure and reached
 * 1 GB of RSS on zero-heavy images (perf-limits.md 6.4). Runs synchronously
 * on the main thread (about 0.9 CPU s per 2 GiB).
 */
export function createZstdDecoder(sink: ImageSink): Decoder {
  const dctx = new zstdBinding.DCtx();
  // Whether the last call filled its output: zstd may then still hold output with no input left.
  let outputFull = false;
  // ZSTD_decompressStream returns 0 when a frame is complete and flushed; a later call with no
  // input then answers with the header size of a next frame (not 0), so the boundary is tracked.
  let atFrameEnd = false;
  let taken = 0;
  const step = (input: Uint8Array): { consumed: number; blocked: boolean } => {
    let consumed = 0;
    while (consumed < input.byteLength || outputFull) {
      const out = sink.space();
      if (!out) return { consumed, blocked: true };
      let result: [number, number, number];
      try {
        result = dctx.decompressStream(out, input.subarray(consumed)) as [number, number, number];
      } catch (error) {
        throw corrupt('zstd', error);
      }
      const [hint, written, read] = result;
      if (hint === 0) atFrameEnd = true;
      else if (read > 0 || written > 0) atFrameEnd = false;
      outputFull = written === out.byteLength;
      consumed += read;
      taken += read;
      sink.commit(written);
      if (read === 0 && written === 0) break;
    }
    return { consumed, blocked: false };
  };
  return {
    push(input) {
      const { consumed, blocked } = step(input);
      return { consumed, pause: blocked };
    },
    async end() {
      // With all input in, zstd may still hold decoded bytes (its window) even when the last
      // call did not fill its output: call with no input until the frame reports complete (0)
      // or nothing moves any more, which means the stream was cut inside a frame.
      while (!atFrameEnd) {
        sink.throwIfFailed();
        const out = sink.space();
        if (!out) {
          await sink.waitForSpace();
          continue;
        }
        let result: [number, number, number];
        try {
          result = dctx.decompressStream(out, EMPTY) as [number, number, number];
        } catch (error) {
          throw corrupt('zstd', error);
        }
        if (result[0] === 0) atFrameEnd = true;
        sink.commit(result[1]);
        if (result[1] === 0 && !atFrameEnd) throw corrupt('zstd', new Error(`the stream ended inside a frame, after ${taken} compressed bytes`));
      }
    },
    onReady() {
      // Only slots unblock it; the caller already listens to slot releases.
    },
    close() {},
  };
}

/**
 * gzip and xz run as Node streams (zlib in the libuv threadpool, xz as a
 * child process), so their output arrives in chunks that are copied into
 * slots; a 1 MiB chunkSize keeps the chunk count low (perf-limits.md 6.5).
 * Backpressure runs both ways: a busy pool stops the output loop, a full
 * input buffer pauses the socket.
 */
function createStreamDecoder(kind: string, input: Writable, output: Readable, sink: ImageSink, finished: Promise<void>): Decoder {
  let ready: (() => void) | undefined;
  let failure: Error | undefined;
  input.on('drain', () => ready?.());
  input.on('error', (error) => { failure ??= corrupt(kind, error); });
  const pumped = (async () => {
    for await (const chunk of output) await sink.append(chunk as Buffer);
  })().catch((error: unknown) => {
    failure ??= error instanceof IngotError ? error : corrupt(kind, error);
    sink.fail(failure);
  });
  return {
    push(bytes) {
      if (failure) throw failure;
      // Copied: the caller reuses its socket buffer as soon as this returns.
      const ok = bytes.byteLength === 0 ? !input.writableNeedDrain : input.write(Buffer.from(bytes));
      return { consumed: bytes.byteLength, pause: !ok };
    },
    async end() {
      input.end();
      await pumped;
      await finished.catch((error: unknown) => { failure ??= corrupt(kind, error); });
      if (failure) throw failure;
    },
    onReady(listener) {
      ready = listener;
    },
    close() {
      input.destroy();
      output.destroy();
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
 * decoder is what the CLI runs anyway. Spawned directly rather than through
 * System because System.run buffers whole outputs; xz touches no device.
 */
export function createXzDecoder(sink: ImageSink): Decoder {
  const child = spawn('xz', ['--decompress', '--stdout'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr = (stderr + text).slice(-2000); });
  const finished = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => (code === 0 ? resolve() : reject(new Error(`xz exited with ${code ?? signal}: ${stderr.trim()}`))));
  });
  child.stdin.on('error', () => {}); // EPIPE when xz quits on corrupt input; its exit status tells why
  const decoder = createStreamDecoder('xz', child.stdin, child.stdout, sink, finished);
  return { ...decoder, close: () => { decoder.close(); child.kill(); } };
}
