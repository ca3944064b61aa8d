import type { Logger } from 'pino';
import { IngotError, isIngotError, toIngotError, type CommandProgress, type SnapshotCaptureResult, type SnapshotManifest, type SnapshotSegment } from '@ingot/protocol';
import type { System } from '../system/system.ts';
import type { CaptureRequest } from './capture-params.ts';
import { partitionCaptureSpans, type DiskSpan } from './capture-ranges.ts';
import type { CaptureSource } from './capture-disk.ts';
import { compressFrames } from './compress-frames.ts';
import { openDiskReader } from './read-disk.ts';
import type { SnapshotUpload, SnapshotUploader } from './upload-seam.ts';

export interface CaptureDeps {
  system: System;
  log: Logger;
  signal: AbortSignal;
  progress(progress: CommandProgress): void;
  uploader: SnapshotUploader;
  agentVersion: string;
  nodeUuid: string | null;
  caPem?: string;
  /** Compression threads; one per core by default. */
  workers?: number;
}

/**
 * Reads the disk (or its table and chosen partitions) with direct I/O into
 * zstd's seekable format, streaming it to the uploader, and builds the
 * manifest from both digests. The manifest is stored (http_put with a
 * manifest_url) only after the image's upload finished; on any failure the
 * upload is aborted and no manifest is written, so nothing half-stored ever
 * looks complete.
 */
export async function captureSnapshot(deps: CaptureDeps, request: CaptureRequest, source: CaptureSource): Promise<SnapshotCaptureResult> {
  const started = Date.now();
  const { disk, size } = source;
  const log = deps.log.child({ device: disk.name, target: request.target.type });
  const spans: DiskSpan[] = request.partitions
    ? partitionCaptureSpans({ size, sectorSize: source.table.sectorSize, table: source.table.label, partitions: source.table.partitions.filter((p) => request.partitions!.includes(p.number)) })
    : [{ start: 0, end: size, read: true }];
  const toRead = spans.filter((s) => s.read).reduce((sum, s) => sum + s.end - s.start, 0);
  log.info({ size, read: toRead, frameSize: request.frameSize, level: request.level, partitions: request.partitions }, 'capturing a snapshot');

  let rawDone = 0;
  let compressed = 0;
  let segments = 0;
  const report = () => deps.progress({
    stage: 'capturing', done: rawDone, total: size, unit: 'bytes',
    message: `${rawDone} of ${size} bytes of ${disk.name} read, ${compressed} compressed bytes sent, ${segments} segments stored`,
  });
  report();

  const reader = await openDiskReader(deps.system, disk.name);
  if (!reader.direct) log.warn('this disk file\'s filesystem refuses O_DIRECT: reading it through the page cache');
  let upload: SnapshotUpload | undefined;
  try {
    upload = deps.uploader.openSnapshotUpload({
      target: request.target, caPem: deps.caPem, retries: request.segmentRetries, signal: deps.signal, log,
      onSegment: () => { segments += 1; },
      onRetry: (info) => log.warn({ segment: info.segment, attempt: info.attempt, attempts: info.attempts, reason: info.reason, waitMs: info.waitMs }, 'retrying a snapshot segment'),
    });
    const opened = upload;
    async function* counted(): AsyncGenerator<Uint8Array> {
      for await (const chunk of reader.chunks(spans, deps.signal)) {
        yield chunk;
        rawDone += chunk.byteLength;
        report();
      }
    }
    const frames = await compressFrames(counted(), async (chunk) => {
      await opened.write(chunk);
      compressed += chunk.byteLength;
    }, { frameSize: request.frameSize, level: request.level, workers: deps.workers, signal: deps.signal });
    deps.signal.throwIfAborted();
    const stored: SnapshotSegment[] = await opened.finish();
    segments = stored.length;
    report();
    const manifest: SnapshotManifest = {
      format: 'ingot-snapshot/1',
      created_at: new Date().toISOString(),
      agent_version: deps.agentVersion,
      node_uuid: deps.nodeUuid,
      source: {
        device: disk.name, size_bytes: size,
        logical_sector_size: disk.logicalSectorSize, physical_sector_size: disk.physicalSectorSize,
        serial: disk.serial, model: disk.model,
        partition_table: { type: source.table.label, uuid: source.table.id },
        partitions: source.partitions,
        captured: request.partitions ? 'partitions' : 'disk',
      },
      raw: { bytes: frames.rawBytes, sha256: frames.rawSha256 },
      image: { format: 'zstd-seekable', bytes: frames.compressedBytes, sha256: frames.compressedSha256, level: request.level, frame_size: frames.frameSize, frames: frames.frames },
      ...(request.target.type === 'http_put' ? {} : { segments: { size: request.target.segment_size, count: stored.length } }),
    };
    let manifestStored = false;
    if (request.target.type === 'http_put' && request.target.manifest_url) {
      await deps.uploader.putJson(request.target.manifest_url, manifest, { caPem: deps.caPem, retries: request.segmentRetries, signal: deps.signal, log }).catch((error: unknown) => {
        throw new IngotError('INGOT_SNAPSHOT_UPLOAD', { details: `the image was stored but storing its manifest failed: ${(error as Error).message}; capture again, or store the manifest from the command's result`, cause: error });
      });
      manifestStored = true;
    }
    const result: SnapshotCaptureResult = { manifest, target: request.target.type, segments: stored, manifest_stored: manifestStored, duration_ms: Date.now() - started };
    log.info({ raw: manifest.raw, image: { bytes: manifest.image.bytes, frames: manifest.image.frames }, segments: stored.length, manifestStored, durationMs: result.duration_ms }, 'snapshot captured');
    return result;
  } catch (error) {
    const failure = deps.signal.aborted && !isIngotError(error, 'INGOT_SNAPSHOT_READ') ? toIngotError(deps.signal.reason, 'INGOT_COMMAND_FAILED') : toIngotError(error, 'INGOT_SNAPSHOT_UPLOAD');
    await upload?.abort(failure).catch((abortError: unknown) => log.warn({ err: abortError }, 'aborting the snapshot upload failed too'));
    throw failure;
  } finally {
    await reader.close();
  }
}
