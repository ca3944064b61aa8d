import { IngotError, redactUrl } from '@ingot/protocol';
import { blockdevRereadArgv } from '../../tools/blockdev.ts';
import { digestsMatch, parseExpectedDigest } from '../request/checksums.ts';
import { createDigestWorker } from './digest/digest-worker.ts';
import { checkImageFormat, isCompressed, type ImageFormat } from './decode/format.ts';
import { readZstdContentSize } from './decode/zstd-frame-header.ts';
import { createFetchState, fetchServed } from './http/fetch-served.ts';
import { readRange } from './http/read-range.ts';
import { ImageSink } from './sink/image-sink.ts';
import { startProgress } from './progress.ts';
import { readBackDigest } from './digest/readback.ts';
import { ServedConsumer } from './served-consumer.ts';
import { alignSlots, createSlotPool } from './sink/slot-pool.ts';
import { openImageTarget } from './sink/target.ts';
import type { DownloadRetry, WriteImageRequest, WriteImageResult } from './types.ts';
import { wipeImageRemnants } from './sink/wipe.ts';
import { writeStagedImage } from './write-staged-image.ts';
import { probeZeroing, zeroSkippedRanges, ZeroRuns } from './sink/zero-runs.ts';

/**
 * The image's size as its server or its own header states it, before a byte
 * is written: a raw image's Content-Length (or Content-Range total), a zstd
 * frame's Frame_Content_Size (a lower bound when more frames follow). A
 * gzip or xz stream, or a zstd one without the size, is stopped by the sink
 * at the disk's end instead (after writing up to it, then wiped).
 */
function declaredImageSize(format: ImageFormat, head: Uint8Array, servedTotal: number | undefined): { bytes: bigint; source: string } | undefined {
  if (format === 'raw' && servedTotal !== undefined) return { bytes: BigInt(servedTotal), source: 'as the raw image\'s Content-Length says' };
  if (format !== 'zstd') return undefined;
  const header = readZstdContentSize(head);
  return header.state === 'known' ? { bytes: header.bytes, source: 'decompressed, as its zstd frame header says' } : undefined;
}

/** `12582912 bytes (12.0 MiB)`: exact for a script, readable for a person. */
function describeBytes(bytes: bigint): string {
  return `${bytes} bytes (${(Number(bytes) / 2 ** 20).toFixed(1)} MiB)`;
}

/** Thrown by the format check to leave the streaming path: the image must be staged and converted. */
class ConvertInstead extends Error {}

/**
 * Downloads, decompresses, digests and writes an image in one pass, resuming
 * dropped connections with Range requests so the digest and decompressor
 * carry on where they stopped. Nothing reports success before the digest of
 * the bytes as served matched; any failure after the first write wipes the
 * target's head and tail so a partial image cannot boot. A qcow2 image, which
 * cannot be streamed, is detected on its first bytes, before anything is
 * written, and goes to writeStagedImage instead.
 */
export async function writeImage(request: WriteImageRequest): Promise<WriteImageResult> {
  try {
    return await writeStreamedImage(request);
  } catch (error) {
    if (!(error instanceof ConvertInstead)) throw error;
    request.log.info({ url: redactUrl(request.urls[0]!) }, 'the image is qcow2: staging it for qemu-img');
    return writeStagedImage(request);
  }
}

async function writeStreamedImage(request: WriteImageRequest): Promise<WriteImageResult> {
  const { urls, target: given, system, log, options } = request;
  const expected = parseExpectedDigest(request.expectedDigest);
  if (urls.length === 0) throw new IngotError('INGOT_INVALID_PARAMS', { details: 'writeImage needs at least one image URL' });
  const parsedUrls = urls.map((url) => {
    try {
      return new URL(url);
    } catch (error) {
      throw new IngotError('INGOT_INVALID_PARAMS', { details: `not a URL: ${redactUrl(url)}`, cause: error });
    }
  });
  const started = Date.now();
  const timeout = options.totalTimeoutMs > 0 ? AbortSignal.timeout(options.totalTimeoutMs) : undefined;
  const overall = AbortSignal.any([request.signal, timeout].filter((s): s is AbortSignal => s !== undefined));
  const target = await openImageTarget(given.path, given.size, system);
  const pool = createSlotPool();
  const worker = createDigestWorker();
  const { expectations } = request;
  // The image bytes' sha256: for a read-back check, and for expectations (a snapshot's raw digest).
  const hashImage = options.verifyReadback || expectations !== undefined;
  const streams = { served: expected.algorithm, ...(hashImage ? { image: 'sha256' } : {}) };
  const state = createFetchState();
  let everWritten = false;
  let attempt: AbortController | undefined;
  const skipMode = options.skipZeroBlocks ?? 'verified';
  const zeroing = skipMode === 'verified' ? await probeZeroing(given.path, system).catch(() => undefined) : undefined;
  const zeroRuns = new ZeroRuns();
  let retry: DownloadRetry | undefined;

  const newRun = () => {
    void worker.reset(streams).catch(() => {}); // ordered before any update; failures surface on update
    const sink = new ImageSink({
      pool, target, worker, skipZeroSlots: skipMode === 'if-device-reads-zero' || zeroing !== undefined, zeroRuns: zeroing ? zeroRuns : undefined,
    });
    const consumer = new ServedConsumer(sink, worker, system, (format, head) => checkFormat(format, sink, head), options.zstdThreads);
    sink.onFailure((error) => attempt?.abort(error));
    return { sink, consumer };
  };
  const checkFormat = (format: ImageFormat, sink: ImageSink, head: Uint8Array) => {
    expectations?.checkFormat(format);
    if (checkImageFormat(format, request.declaredFormat) === 'convert') throw new ConvertInstead();
    const declared = declaredImageSize(format, head, state.total);
    if (declared !== undefined && declared.bytes > BigInt(given.size)) {
      throw new IngotError('INGOT_IMAGE_TOO_LARGE', {
        details: `the image is ${describeBytes(declared.bytes)}, ${declared.source}, and ${given.path} holds ${describeBytes(BigInt(given.size))}; nothing was written`,
      });
    }
    sink.hashWith(format === 'raw' ? 'served' : hashImage ? 'image' : undefined);
    log.info({ format }, 'image format detected');
  };
  let run = newRun();
  const retire = async () => {
    run.sink.retire();
    await run.consumer.close();
    await run.sink.drain().catch(() => {});
    // After the drain: a slot whose zero check was still pending starts its write only then.
    everWritten ||= run.sink.writeStarted;
    run.sink.reset();
  };
  const progress = startProgress({
    intervalMs: options.progressIntervalMs ?? 1000,
    log,
    onProgress: request.onProgress,
    sample: () => ({ bytesDone: run.consumer.served, bytesTotal: state.total, bytesWritten: run.sink.bytesWritten, format: run.consumer.format, ...(retry ? { retry } : {}) }),
  });
  try {
    if (target.direct) alignSlots(pool, (view) => target.probeAlignment(view));
    if (expectations) {
      const first = parsedUrls[0]!;
      const proxy = typeof request.proxy === 'function' ? request.proxy(first) : request.proxy;
      await expectations.beforeWrite(
        (start, length) => readRange({ url: first, caPem: request.caPem, proxy, stallTimeoutMs: options.stallTimeoutMs, signal: overall }, start, length),
        { size: given.size },
      );
    }
    await fetchServed({
      urls: parsedUrls,
      caPem: request.caPem,
      proxy: request.proxy,
      options,
      signal: overall,
      timeout,
      cancel: request.signal,
      log,
      state,
      onAttempt: (controller) => { attempt = controller; },
      onRetry: (next) => {
        if (next === retry) return;
        retry = next;
        progress.now();
      },
      destination: {
        held: () => run.consumer.served,
        consumer: async () => run.consumer,
        restart: async () => {
          await retire();
          run = newRun();
        },
        throwIfFailed: () => {
          // The sink wraps what it is failed with; the format check's verdict is its cause.
          if (run.sink.failure?.cause instanceof ConvertInstead) throw run.sink.failure.cause;
          run.sink.throwIfFailed();
        },
      },
    });
    await run.consumer.finish();
    const digests = await worker.digest();
    const actual = digests.served ?? '';
    if (!digestsMatch(actual, expected.value)) {
      throw new IngotError('INGOT_IMAGE_CHECKSUM', { details: `the ${expected.algorithm} of the image as served is ${actual}, expected ${expected.value}` });
    }
    expectations?.afterWrite({ servedBytes: run.consumer.served, imageBytes: run.sink.imageBytes, frames: run.consumer.frames, imageSha256: digests.image ?? '' });
    let zeroFallbackBytes = 0;
    if (zeroing) {
      const zeroed = await zeroSkippedRanges({ runs: zeroRuns, method: zeroing, target, system, pool, log });
      zeroFallbackBytes = zeroed.writtenBytes;
    }
    await target.sync();
    await target.checkPresent();
    const format = run.consumer.format ?? 'raw';
    let readbackDigest: string | undefined;
    if (options.verifyReadback) {
      const algorithm = isCompressed(format) ? 'sha256' : expected.algorithm;
      const written = isCompressed(format) ? digests.image ?? '' : actual;
      readbackDigest = await readBackDigest(target, pool, worker, run.sink.imageBytes, algorithm);
      if (!digestsMatch(readbackDigest, written)) {
        throw new IngotError('INGOT_IMAGE_READBACK', { details: `${given.path} reads back ${algorithm} ${readbackDigest}, but ${written} was written` });
      }
    }
    if (target.isBlockDevice) {
      // The new partition table must be what the kernel sees before anyone looks for partitions.
      await system.run(blockdevRereadArgv(given.path), { allowFailure: true });
    }
    return {
      format,
      imageBytes: run.sink.imageBytes,
      servedBytes: run.consumer.served,
      digest: { algorithm: expected.algorithm, value: actual },
      readbackDigest,
      url: redactUrl(parsedUrls[state.urlIndex]!),
      attempts: state.attempts,
      resumes: state.resumes,
      restarts: state.restarts,
      skippedZeroBytes: run.sink.skippedZeroBytes - zeroFallbackBytes,
      zeroFallbackBytes,
      durationMs: Date.now() - started,
    };
  } catch (error) {
    await retire();
    if (everWritten) {
      log.warn({ err: error, target: given.path }, 'image write failed after writing started: wiping the partial image');
      await target.close();
      await wipeImageRemnants(given.path, given.size, system).catch((wipeError: unknown) => {
        log.error({ err: wipeError, target: given.path }, 'wiping the partial image failed');
      });
    }
    throw error;
  } finally {
    progress.stop();
    await run.consumer.close();
    await worker.close();
    await target.close();
  }
}
