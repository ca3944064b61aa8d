import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IngotError, redactUrl } from '@ingot/protocol';
import { blockdevRereadArgv } from '../../tools/blockdev.ts';
import { parseQemuImgInfo, parseQemuImgProgress, qemuImgConvertArgv, qemuImgInfoArgv, type QemuImgInfo } from '../../tools/qemu-img.ts';
import { ToolError, type System } from '../../system/system.ts';
import { digestsMatch, parseExpectedDigest } from '../request/checksums.ts';
import { createFetchState, fetchServed } from './http/fetch-served.ts';
import { startProgress } from './progress.ts';
import { StagingFile } from './sink/staging-file.ts';
import { openImageFile } from './sink/target.ts';
import type { DownloadRetry, WriteImageRequest, WriteImageResult } from './types.ts';
import { wipeImageRemnants } from './sink/wipe.ts';

/**
 * Writes an image that cannot be streamed (qcow2: its tables point anywhere
 * in the file) the way IPA's non-streaming path does (ipa-protocol.md 9.5),
 * with one order that matters: download the whole file as served into a
 * staging file (same HTTP client, Range resume and failover as streaming),
 * compare its digest, and only then let `qemu-img` look at it: `info` refuses
 * backing files, external data files and a virtual size beyond the disk, then
 * `convert` writes the raw bytes onto the disk. Not one byte reaches the disk
 * before the digest matched; the staging file is removed in every case; a
 * failed conversion wipes the disk's head and tail like any partial image.
 */
export async function writeStagedImage(request: WriteImageRequest): Promise<WriteImageResult> {
  const { target: given, system, log, options } = request;
  const expected = parseExpectedDigest(request.expectedDigest);
  const urls = request.urls.map((url) => new URL(url));
  // Opened for writing before a byte is downloaded: the System refuses a disk this agent was not
  // given (qemu-img's argv cannot tell a disk file from any other file), and a missing one fails now.
  const opened = await openImageFile(system, given.path);
  const targetIsBlockDevice = opened.isBlockDevice;
  await opened.close();
  const started = Date.now();
  const timeout = options.totalTimeoutMs > 0 ? AbortSignal.timeout(options.totalTimeoutMs) : undefined;
  const overall = AbortSignal.any([request.signal, timeout].filter((s): s is AbortSignal => s !== undefined));
  const state = createFetchState();
  const stagingDir = options.stagingDir ?? tmpdir();
  const dir = await system.createTempDir(stagingDir, 'ingot-image-').catch((error: unknown) => {
    throw new IngotError('INGOT_IMAGE_WRITE', { details: `cannot create a staging directory in ${stagingDir}: ${(error as Error).message}`, cause: error });
  });
  let staging: StagingFile | undefined;
  let converting = false;
  let converted = 0;
  let info: QemuImgInfo | undefined;
  const progressOptions = { intervalMs: options.progressIntervalMs ?? 1000, log, onProgress: request.onProgress };
  let retry: DownloadRetry | undefined;
  let progress = startProgress({
    ...progressOptions,
    sample: () => ({ bytesDone: staging?.held() ?? 0, bytesTotal: state.total, bytesWritten: 0, format: 'qcow2' as const, phase: 'download' as const, ...(retry ? { retry } : {}) }),
  });
  try {
    staging = await StagingFile.create(system, join(dir, 'image.qcow2'), expected.algorithm, () => state.total);
    let attempt: AbortController | undefined;
    staging.onFailure(() => attempt?.abort(new Error('the staging file failed')));
    await fetchServed({
      urls, caPem: request.caPem, proxy: request.proxy, options, signal: overall, timeout, cancel: request.signal, log, state,
      destination: staging,
      onAttempt: (controller) => { attempt = controller; },
      onRetry: (next) => {
        if (next === retry) return;
        retry = next;
        progress.now();
      },
    });
    const servedBytes = staging.held();
    const actual = staging.digest();
    await staging.close();
    if (!digestsMatch(actual, expected.value)) {
      throw new IngotError('INGOT_IMAGE_CHECKSUM', { details: `the ${expected.algorithm} of the image as served is ${actual}, expected ${expected.value}; nothing was written to ${given.path}` });
    }
    progress.stop();
    log.info({ servedBytes, digest: actual }, 'qcow2 image staged and its digest verified');

    info = await inspect(system, staging.path, given, overall);
    const virtualSize = info.virtualSize;
    progress = startProgress({
      ...progressOptions,
      sample: () => ({ bytesDone: converted, bytesTotal: virtualSize, bytesWritten: converted, format: 'qcow2' as const, phase: 'convert' as const }),
    });
    converting = true;
    let output = '';
    await system.run(qemuImgConvertArgv(staging.path, given.path, { targetIsBlockDevice }), {
      signal: overall,
      onStdout: (text) => {
        output = (output + text).slice(-256);
        const fraction = parseQemuImgProgress(output);
        if (fraction !== undefined) converted = Math.round(fraction * virtualSize);
      },
    }).catch((error: unknown) => {
      if (timeout?.aborted) throw new IngotError('INGOT_IMAGE_TIMEOUT', { details: `the image was not written within ${options.totalTimeoutMs} ms`, cause: error });
      if (request.signal?.aborted) throw request.signal.reason;
      const why = error instanceof ToolError ? error.message : String(error);
      throw new IngotError('INGOT_IMAGE_CONVERT', { details: `qemu-img could not convert the qcow2 image onto ${given.path}: ${why}`, cause: error });
    });
    converted = virtualSize;
    if (targetIsBlockDevice) await system.run(blockdevRereadArgv(given.path), { allowFailure: true });
    if (options.verifyReadback) log.info('read-back verification covers streamed images only; qemu-img wrote this one');
    return {
      format: 'qcow2',
      imageBytes: virtualSize,
      servedBytes,
      digest: { algorithm: expected.algorithm, value: actual },
      url: redactUrl(urls[state.urlIndex]!),
      attempts: state.attempts,
      resumes: state.resumes,
      restarts: state.restarts,
      skippedZeroBytes: 0,
      zeroFallbackBytes: 0,
      durationMs: Date.now() - started,
    };
  } catch (error) {
    if (converting) {
      log.warn({ err: error, target: given.path }, 'converting the image failed: wiping the partial image');
      await wipeImageRemnants(given.path, given.size, system).catch((wipeError: unknown) => {
        log.error({ err: wipeError, target: given.path }, 'wiping the partial image failed');
      });
    }
    throw error;
  } finally {
    progress.stop();
    await staging?.close();
    await system.removeTempDir(dir).catch((error: unknown) => log.error({ err: error, dir }, 'removing the staging directory failed'));
  }
}

/** `qemu-img info` on the verified file, and the refusals IPA's format inspector makes (9.5). */
async function inspect(system: System, path: string, target: { path: string; size: number }, signal: AbortSignal): Promise<QemuImgInfo> {
  const refuse = (details: string, code: 'INGOT_IMAGE_FORMAT' | 'INGOT_IMAGE_TOO_LARGE' = 'INGOT_IMAGE_FORMAT'): never => {
    throw new IngotError(code, { details: `${details}; nothing was written to ${target.path}` });
  };
  let info: QemuImgInfo;
  try {
    info = parseQemuImgInfo((await system.run(qemuImgInfoArgv(path), { signal, timeoutMs: 60_000 })).stdout);
  } catch (error) {
    return refuse(`qemu-img cannot read the image as qcow2: ${(error as Error).message}`);
  }
  if (info.format !== 'qcow2') refuse(`qemu-img reads the image as ${info.format}, not qcow2`);
  // A backing file or data file would make qemu-img read files of the agent's host: never follow one.
  if (info.backingFile !== null) refuse(`the qcow2 image has a backing file (${JSON.stringify(info.backingFile)}); flatten it first (qemu-img convert -O qcow2 without -B)`);
  if (info.dataFile !== null) refuse(`the qcow2 image keeps its data in an external file (${JSON.stringify(info.dataFile)}); convert it to a self-contained qcow2`);
  if (info.corrupt) refuse('QEMU marked the qcow2 image corrupt');
  if (info.virtualSize > target.size) refuse(`the qcow2 image's virtual size is ${info.virtualSize} bytes, ${target.path} only ${target.size}`, 'INGOT_IMAGE_TOO_LARGE');
  return info;
}
