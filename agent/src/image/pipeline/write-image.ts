import { setTimeout as sleep } from 'node:timers/promises';
import { IngotError, isIngotError } from '@ingot/protocol';
import { blockdevRereadArgv } from '../../tools/blockdev.ts';
import { digestsMatch, parseExpectedDigest } from './checksum.ts';
import { createDigestWorker } from './digest-worker.ts';
import { isCompressed, type ImageFormat } from './format.ts';
import { planResponse } from './http-head.ts';
import { openResponse, type OpenResponse } from './http-connection.ts';
import { ImageSink } from './image-sink.ts';
import { describeImageUrl } from './image-url.ts';
import { startProgress } from './progress.ts';
import { readBackDigest } from './readback.ts';
import { ServedConsumer } from './served-consumer.ts';
import { alignSlots, createSlotPool } from './slot-pool.ts';
import { openImageTarget } from './target.ts';
import type { WriteImageRequest, WriteImageResult } from './types.ts';
import { wipeImageRemnants } from './wipe.ts';
import { probeZeroing, zeroSkippedRanges, ZeroRuns } from './zero-runs.ts';

const MAX_REDIRECTS = 5;

/**
 * Downloads, decompresses, digests and writes an image in one pass, resuming
 * dropped connections with Range requests so the digest and decompressor
 * carry on where they stopped. Nothing reports success before the digest of
 * the bytes as served matched; any failure after the first write wipes the
 * target's head and tail so a partial image cannot boot.
 */
export async function writeImage(request: WriteImageRequest): Promise<WriteImageResult> {
  const { urls, target: given, guard, system, log, options } = request;
  const expected = parseExpectedDigest(request.expectedDigest);
  if (urls.length === 0) throw new IngotError('INGOT_INVALID_PARAMS', { details: 'writeImage needs at least one image URL' });
  const parsedUrls = urls.map((url) => {
    try {
      return new URL(url);
    } catch (error) {
      throw new IngotError('INGOT_INVALID_PARAMS', { details: `not a URL: ${describeImageUrl(url)}`, cause: error });
    }
  });
  const started = Date.now();
  const timeout = options.totalTimeoutMs > 0 ? AbortSignal.timeout(options.totalTimeoutMs) : undefined;
  const overall = AbortSignal.any([request.signal, timeout].filter((s): s is AbortSignal => s !== undefined));
  const target = await openImageTarget(given.path, given.size, guard);
  const pool = createSlotPool();
  const worker = createDigestWorker();
  const streams = { served: expected.algorithm, ...(options.verifyReadback ? { image: 'sha256' } : {}) };
  let total: number | undefined;
  let everWritten = false;
  let attempt: AbortController | undefined;
  const stats = { attempts: 0, resumes: 0, restarts: 0 };
  const skipMode = options.skipZeroBlocks ?? 'verified';
  const zeroing = skipMode === 'verified' ? await probeZeroing(given.path, system).catch(() => undefined) : undefined;
  const zeroRuns = new ZeroRuns();

  const newRun = () => {
    void worker.reset(streams).catch(() => {}); // ordered before any update; failures surface on update
    const sink = new ImageSink({
      pool, target, worker, skipZeroSlots: skipMode === 'if-device-reads-zero' || zeroing !== undefined, zeroRuns: zeroing ? zeroRuns : undefined,
    });
    const consumer = new ServedConsumer(sink, worker, (format) => checkFormat(format, sink));
    sink.onFailure((error) => attempt?.abort(error));
    return { sink, consumer };
  };
  const checkFormat = (format: ImageFormat, sink: ImageSink) => {
    if (format === 'qcow2') {
      throw new IngotError('INGOT_IMAGE_FORMAT', { details: 'the image is qcow2, which is converted by qemu-img, not streamed' });
    }
    if (format === 'raw' && total !== undefined && total > given.size) {
      throw new IngotError('INGOT_IMAGE_TOO_LARGE', { details: `the raw image has ${total} bytes, ${given.path} only ${given.size}; nothing was written` });
    }
    sink.hashWith(format === 'raw' ? 'served' : options.verifyReadback ? 'image' : undefined);
    log.info({ format }, 'image format detected');
  };
  let run = newRun();
  const retire = async () => {
    everWritten ||= run.sink.writeStarted;
    run.consumer.close();
    run.sink.retire();
    await run.sink.drain().catch(() => {});
    run.sink.reset();
  };
  const progress = startProgress({
    intervalMs: options.progressIntervalMs ?? 1000,
    log,
    onProgress: request.onProgress,
    sample: () => ({ bytesDone: run.consumer.served, bytesTotal: total, bytesWritten: run.sink.bytesWritten, format: run.consumer.format }),
  });
  let urlIndex = 0;
  let failuresInRow = 0;
  try {
    if (target.direct) alignSlots(pool, (view) => target.probeAlignment(view));
    while (total === undefined || run.consumer.served < total) {
      const url = parsedUrls[urlIndex]!;
      const heldBefore = run.consumer.served;
      attempt = new AbortController();
      const signal = AbortSignal.any([overall, attempt.signal]);
      stats.attempts++;
      let response: OpenResponse | undefined;
      try {
        let current = url;
        for (let redirects = 0; ; redirects++) {
          response = await openResponse({ url: current, rangeStart: run.consumer.served, caPem: request.caPem, proxy: request.proxy, stallTimeoutMs: options.stallTimeoutMs, signal });
          const plan = planResponse(response.head, run.consumer.served, total);
          if (plan.kind === 'redirect' && redirects < MAX_REDIRECTS) {
            response.close();
            current = new URL(plan.location, current);
            continue;
          }
          if (plan.kind === 'complete') {
            response.close();
            break;
          }
          if (plan.kind === 'fatal' || plan.kind === 'redirect') {
            response.close();
            // status 400 marks it final: the loop below does not retry it (IPA: 4xx is fatal, 9.4).
            throw new IngotError('INGOT_IMAGE_DOWNLOAD', {
              details: `${describeImageUrl(current)}: ${plan.kind === 'fatal' ? plan.reason : 'too many redirects'}`,
              status: 400,
            });
          }
          if (plan.kind === 'retry') throw new IngotError('INGOT_IMAGE_DOWNLOAD', { details: `${describeImageUrl(current)}: ${plan.reason}` });
          if (plan.kind === 'restart') {
            log.warn({ url: describeImageUrl(current), held: run.consumer.served }, 'the server ignored the Range request: starting over from byte 0');
            stats.restarts++;
            await retire();
            run = newRun();
            total = plan.total;
            if (!plan.reuseBody) {
              response.close();
              break;
            }
          } else {
            total = plan.total;
            if (plan.start > 0) stats.resumes++;
          }
          log.debug({ url: describeImageUrl(current), from: run.consumer.served, total }, 'reading image body');
          await response.readBody(run.consumer, plan.bodyLength);
          break;
        }
        failuresInRow = 0;
      } catch (error) {
        response?.close();
        run.sink.throwIfFailed(); // format, size and write failures are final
        if (timeout?.aborted) throw new IngotError('INGOT_IMAGE_TIMEOUT', { details: `the image was not written within ${options.totalTimeoutMs} ms`, cause: error });
        if (request.signal?.aborted) throw request.signal.reason;
        const retryable = isIngotError(error, 'INGOT_IMAGE_DOWNLOAD') || isIngotError(error, 'INGOT_IMAGE_STALLED');
        if (!retryable || (isIngotError(error) && error.status === 400)) throw error;
        failuresInRow = run.consumer.served > heldBefore ? 1 : failuresInRow + 1;
        if (failuresInRow > options.retries) throw error;
        const wait = Math.min(options.backoff.maxMs, options.backoff.initialMs * options.backoff.factor ** (failuresInRow - 1));
        log.warn({ err: error, url: describeImageUrl(url), held: run.consumer.served, total, waitMs: wait }, 'image download interrupted; resuming');
        urlIndex = (urlIndex + 1) % parsedUrls.length;
        await sleep(wait, undefined, { signal: overall }).catch(() => {});
      }
    }
    await run.consumer.finish();
    const digests = await worker.digest();
    const actual = digests.served ?? '';
    if (!digestsMatch(actual, expected.value)) {
      throw new IngotError('INGOT_IMAGE_CHECKSUM', { details: `the ${expected.algorithm} of the image as served is ${actual}, expected ${expected.value}` });
    }
    let zeroFallbackBytes = 0;
    if (zeroing && system) {
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
    if (target.isBlockDevice && system) {
      // The new partition table must be what the kernel sees before anyone looks for partitions.
      await system.run(blockdevRereadArgv(given.path), { allowFailure: true });
    }
    return {
      format,
      imageBytes: run.sink.imageBytes,
      servedBytes: run.consumer.served,
      digest: { algorithm: expected.algorithm, value: actual },
      readbackDigest,
      url: describeImageUrl(parsedUrls[urlIndex]!),
      ...stats,
      skippedZeroBytes: run.sink.skippedZeroBytes - zeroFallbackBytes,
      zeroFallbackBytes,
      durationMs: Date.now() - started,
    };
  } catch (error) {
    await retire();
    if (everWritten) {
      log.warn({ err: error, target: given.path }, 'image write failed after writing started: wiping the partial image');
      await target.close();
      await wipeImageRemnants(given.path, given.size, { system, guard }).catch((wipeError: unknown) => {
        log.error({ err: wipeError, target: given.path }, 'wiping the partial image failed');
      });
    }
    throw error;
  } finally {
    progress.stop();
    await worker.close();
    await target.close();
  }
}
