/**
 * A snapshot as a conductor takes it (issue 13): the disk's size from the
 * agent's inventory, short-lived upload URLs from the store for the worst
 * case, `snapshot.capture` polled to its end with its progress, then the
 * object completed with the conductor's own credentials. Whatever fails
 * after the store was prepared (the capture, the completion, an interrupt)
 * abandons the upload, so nothing half-uploaded is left looking complete; an
 * interrupted capture is also aborted on the agent.
 */
import type { Logger } from 'pino';
import { IngotError, type CommandProgress, type SnapshotCaptureParams, type SnapshotCaptureResult, type SnapshotManifest } from '@ingot/protocol';
import type { AgentClient } from '../agent-client.ts';
import type { SnapshotStore } from '../snapshot/snapshot-store.ts';

export type SnapshotProgress =
  | { type: 'prepared'; target: SnapshotStore['type']; rawBytes: number; urls: number; segmentSize: number | null }
  | { type: 'progress'; progress: CommandProgress | null | undefined }
  | { type: 'captured'; result: SnapshotCaptureResult }
  | { type: 'completed'; manifest: SnapshotManifest }
  | { type: 'abandoned'; error: Error | null };

export interface DriveSnapshotOptions {
  /** Only the methods a snapshot needs, so a test can pass a fake. */
  client: Pick<AgentClient, 'getHardwareInfo' | 'captureSnapshot' | 'waitForSnapshot' | 'abortSnapshot'>;
  store: SnapshotStore;
  /** What to capture: `snapshot.capture`'s parameters but the target, which the store makes. */
  capture: Omit<SnapshotCaptureParams, 'target'>;
  /** The disk's size in bytes when known; else read from the agent's inventory (the named disk, or the largest). */
  rawBytes?: number;
  log: Logger;
  onProgress?: (event: SnapshotProgress) => void;
  signal?: AbortSignal;
  /** Between polls of the running capture. Default 2000. */
  pollIntervalMs?: number;
  /** Longest the capture may run. Default 6 hours. */
  timeoutMs?: number;
}

export interface SnapshotReport {
  manifest: SnapshotManifest;
  result: SnapshotCaptureResult;
  /** Where the image now is (no signature). */
  location: string;
  durationMs: number;
}

interface InventoryDisk { name?: unknown; size?: unknown }

/**
 * The bytes to sign URLs for: the named disk's size, or the largest disk's
 * when the agent chooses (hints or the root device): never fewer URLs than the
 * capture can need.
 */
export function diskBytesFromInventory(inventory: Record<string, unknown>, device: string | undefined): number {
  const disks = (Array.isArray(inventory.disks) ? inventory.disks : []) as InventoryDisk[];
  const sized = disks.filter((disk): disk is { name: string; size: number } => typeof disk.name === 'string' && Number.isSafeInteger(disk.size) && (disk.size as number) > 0);
  if (device) {
    const named = sized.find((disk) => disk.name === device);
    if (!named) {
      throw new IngotError('INGOT_DEVICE_NOT_FOUND', { details: `${device} is not among the agent's disks (${sized.map((disk) => disk.name).join(', ') || 'none listed'}); give --device one of them` });
    }
    return named.size;
  }
  if (sized.length === 0) throw new IngotError('INGOT_DEVICE_NOT_FOUND', { details: 'the agent\'s inventory lists no disk with a size; nothing to capture' });
  return Math.max(...sized.map((disk) => disk.size));
}

export async function driveSnapshot(options: DriveSnapshotOptions): Promise<SnapshotReport> {
  const { client, store, log, signal } = options;
  const started = Date.now();
  const rawBytes = options.rawBytes ?? diskBytesFromInventory(await client.getHardwareInfo({ signal }), options.capture.device);
  const target = await store.prepare(rawBytes, { frameSize: options.capture.frame_size });
  const urls = target.type === 'swift' ? target.segment_urls.length : target.type === 's3' ? target.part_urls.length : 1;
  options.onProgress?.({ type: 'prepared', target: target.type, rawBytes, urls, segmentSize: target.type === 'http_put' ? null : target.segment_size });
  log.info({ store: store.type, location: store.location, rawBytes, urls }, 'upload URLs signed; starting the capture');

  let capturing = false;
  try {
    const command = await client.captureSnapshot({ ...options.capture, target }, { signal });
    capturing = command.command_status === 'RUNNING';
    const result = await client.waitForSnapshot(command, {
      intervalMs: options.pollIntervalMs ?? 2000, timeoutMs: options.timeoutMs ?? 6 * 3600_000, signal,
      onProgress: (polled) => options.onProgress?.({ type: 'progress', progress: polled?.command_progress }),
    });
    capturing = false;
    options.onProgress?.({ type: 'captured', result });
    const manifest = await store.complete(result);
    options.onProgress?.({ type: 'completed', manifest });
    log.info({ location: store.location, image: manifest.image, raw: manifest.raw }, 'snapshot stored');
    return { manifest, result, location: store.location, durationMs: Date.now() - started };
  } catch (error) {
    if (capturing) {
      // Interrupted or timed out while the agent still reads and uploads: stop it before its segments are deleted.
      await client.abortSnapshot().catch((abortError: unknown) => log.warn({ err: abortError }, 'snapshot.abort failed; the agent may still be uploading'));
    }
    let abandonError: Error | null = null;
    try {
      await store.abandon();
    } catch (thrown) {
      abandonError = thrown instanceof Error ? thrown : new Error(String(thrown));
      log.warn({ err: abandonError, location: store.location }, 'could not remove what was uploaded; remove it by hand');
    }
    options.onProgress?.({ type: 'abandoned', error: abandonError });
    throw error;
  }
}
