import type { Logger } from 'pino';
import { type CommandProgress, type NodeInfo, type SnapshotCaptureResult } from '@ingot/protocol';
import type { BlockDevices } from '../disks/block-devices.ts';
import type { System } from '../system/system.ts';
import { parseCaptureParams } from './capture-params.ts';
import { resolveCaptureSource } from './capture-disk.ts';
import { captureSnapshot } from './capture-snapshot.ts';
import { openSnapshotUpload, putJson } from '../image/pipeline/http/upload/snapshot-upload.ts';
import type { SnapshotUploader } from './upload-seam.ts';

/** What the capture command and step share, from the composition root. */
export interface SnapshotDeps {
  /** The upload's HTTP client: image/pipeline/http/upload/'s unless a test gives an in-memory one. */
  uploader?: SnapshotUploader;
  /** `agent_version` as the heartbeat sends it (the manifest records it). */
  agentVersion: string;
  /** ipa-ca-file's PEM: object stores behind a private CA. */
  caPem?: string;
  /** Compression threads; one per core by default. */
  workers?: number;
}

export interface CaptureCallContext {
  system: System;
  devices: BlockDevices;
  log: Logger;
  node: NodeInfo;
}

const realUploader: SnapshotUploader = { openSnapshotUpload, putJson };

function uploaderOf(deps: SnapshotDeps): SnapshotUploader {
  return deps.uploader ?? realUploader;
}

/** The checks of the command's and the step's validation: the parameters, then the disk and its partitions (read only). */
export async function validateCapture(ctx: CaptureCallContext, params: Record<string, unknown>, deps: SnapshotDeps): Promise<void> {
  await resolveCaptureSource(ctx, parseCaptureParams(params));
}

/** One capture, as the command and the step run it. */
export async function runCapture(ctx: CaptureCallContext & { signal: AbortSignal; progress(progress: CommandProgress): void }, params: Record<string, unknown>, deps: SnapshotDeps): Promise<SnapshotCaptureResult> {
  const uploader = uploaderOf(deps);
  const request = parseCaptureParams(params);
  // Again, now: the disks may have changed since the request was validated.
  const source = await resolveCaptureSource(ctx, request);
  return captureSnapshot({
    system: ctx.system, log: ctx.log, signal: ctx.signal, progress: ctx.progress, uploader,
    agentVersion: deps.agentVersion, nodeUuid: ctx.node.uuid === 'unknown' ? null : ctx.node.uuid, caPem: deps.caPem, workers: deps.workers,
  }, request, source);
}
