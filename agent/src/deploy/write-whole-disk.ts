import type { CommandProgress, NodeInfo } from '@ingot/protocol';
import type { BlockDevices } from '../disks/block-devices.ts';
import type { System } from '../system/system.ts';
import type { ChecksumOptions } from '../image/request/checksums.ts';
import type { ConfigDriveImage } from '../image/request/config-drive.ts';
import type { ImageInfo } from '../image/request/image-info.ts';
import { readTableFound } from '../disks/table-found.ts';
import { diskIdentifierFromMbr, partitionUuidsResult, type PartitionUuids } from '../disks/partition-layout.ts';
import type { Logger } from 'pino';
import { writeImage, type WriteImageOptions, type WriteImageProgress, type WriteImageResult } from '../image/pipeline/index.ts';
import { proxyFor } from '../image/request/proxy-for.ts';
import { chooseRootDevice } from '../disks/choose-root-device.ts';
import { readExpectedDigest } from '../image/request/checksums.ts';

type ExpectedValue = Awaited<ReturnType<typeof readExpectedDigest>>;
import { writeWholeDiskConfigDrive } from './config-drive-writer.ts';
import { settlePartitionTable } from '../disks/partition-table.ts';
import { snapshotExpectations } from './snapshot-check.ts';

/**
 * What an image write needs of a step's context (no ports). Spelled out
 * rather than picked from hardware's StepContext, which satisfies it: the
 * hardware framework's generic manager calls deploy, so deploy must not
 * import hardware back (a folder import cycle).
 */
export interface DeployContext {
  system: System;
  devices: BlockDevices;
  log: Logger;
  node: NodeInfo;
  signal: AbortSignal;
  progress(progress: CommandProgress): void;
}

export interface DeployImageOptions extends ChecksumOptions {
  /** `prepare_image`'s `configdrive` parameter, else `image_info.configdrive` (4.1). */
  configdrive?: unknown;
  write?: Partial<WriteImageOptions>;
  /** Trusted CAs (PEM) for https image URLs; default the system store. */
  caPem?: string;
  /** Called once the request is valid and the disk chosen, just before the first byte may be written. */
  beforeWrite?(): void;
}

export interface DeployImageResult {
  /** IPA's `prepare_image` result string (4.1). */
  result: string;
  /** What `standby.get_partition_uuids` answers from now on (9.8). */
  partitionUuids: PartitionUuids;
}

/**
 * Defaults after IPA's: a 60 s read timeout and 9 connection retries
 * (`image_download_connection_timeout`, `_retries`, 9.4); no overall limit,
 * as `image_download_max_duration` is unset by default.
 */
export const DEFAULT_WRITE_OPTIONS: WriteImageOptions = {
  stallTimeoutMs: 60_000,
  totalTimeoutMs: 0,
  retries: 9,
  backoff: { initialMs: 1_000, maxMs: 10_000, factor: 2 },
  skipZeroBlocks: 'verified', // zero blocks skipped only where the disk zeros them provably (image/pipeline/sink/zero-runs.ts)
};

/**
 * Writes a whole-disk image to the root device (ipa-protocol.md 9.5): chooses
 * the disk by the node's root device hints, streams, decompresses and
 * verifies the image, then reads the MBR disk signature that Ironic stores as
 * the `root uuid`. A config drive goes into a partition at the disk's end
 * (9.6). A failure after the first write leaves the disk's head and
 * tail zeroed (the pipeline's wipe), never a partial image that could boot.
 */
export async function deployWholeDiskImage(ctx: DeployContext, info: ImageInfo, configDrive: ConfigDriveImage | null, options: DeployImageOptions): Promise<DeployImageResult> {
  const disk = await chooseRootDevice(ctx);
  const log = ctx.log.child({ image: info.id, device: disk.name });
  const firstUrl = info.urls[0]!;
  const expected = await readExpectedDigest(info.checksumSpec, firstUrl, options);
  log.info({ algorithm: expected.algorithm, source: expected.source, format: info.diskFormat }, 'writing whole-disk image');

  options.beforeWrite?.();
  const written = await streamImage(ctx, info, expected, { path: disk.name, size: disk.size }, options, log);

  // 9.5 steps 5-7: the backup GPT moved to the disk's end, partitions visible, then the config drive.
  await settlePartitionTable(ctx.system, disk, log);
  if (configDrive) await writeWholeDiskConfigDrive({ system: ctx.system, devices: ctx.devices, log }, disk, configDrive);
  const partitionUuids = await readWholeDiskUuids(ctx.system, disk);
  const rootUuid = partitionUuids['root uuid'];
  log.info({ format: written.format, bytes: written.imageBytes, digest: written.digest.value, rootUuid, partitionTable: partitionUuids.partition_table, diskGuid: partitionUuids.disk_guid, durationMs: written.durationMs }, 'whole-disk image written and verified');
  return {
    result: `prepare_image: image (${info.id}) written to device ${disk.name} root_uuid=${rootUuid}`,
    partitionUuids,
  };
}

/**
 * What `get_partition_uuids` answers for a whole-disk image, read from the
 * disk's first two logical sectors: IPA's `root uuid` (the MBR disk
 * signature, kept as Ironic stores it) and Ingot's `partition_table` and
 * `disk_guid` (disks/table-found.ts).
 */
export async function readWholeDiskUuids(system: System, disk: { name: string; logicalSectorSize: number }): Promise<PartitionUuids> {
  const sectorSize = disk.logicalSectorSize > 0 ? disk.logicalSectorSize : 512;
  const head = await system.readRange(disk.name, 0, 2 * sectorSize);
  return partitionUuidsResult({ imageType: 'whole-disk', diskIdentifier: diskIdentifierFromMbr(head), table: readTableFound(head, sectorSize) });
}

/**
 * The one pipeline call both image types make: `info`'s image onto `target`
 * (a disk or a root partition), with the node's proxies, the agent's download
 * settings and the step's progress.
 */
export function streamImage(
  ctx: DeployContext, info: ImageInfo, expected: ExpectedValue, target: { path: string; size: number }, options: DeployImageOptions, log: Logger,
): Promise<WriteImageResult> {
  return writeImage({
    urls: info.urls,
    expectedDigest: { algorithm: expected.algorithm, value: expected.expected },
    target,
    system: ctx.system,
    proxy: (url) => proxyFor(info.proxies, info.noProxy, url),
    declaredFormat: info.diskFormat,
    ...(info.snapshot ? { expectations: snapshotExpectations(info.snapshot, log) } : {}),
    signal: ctx.signal,
    log,
    onProgress: (progress) => ctx.progress(describeProgress(progress)),
    ...(options.caPem ? { caPem: options.caPem } : {}),
    options: { ...DEFAULT_WRITE_OPTIONS, ...options.write },
  });
}

/** The command's progress: the bytes, and either the rate or, while the download waits to retry, why and when. */
export function describeProgress(progress: WriteImageProgress) {
  const rate = `${(progress.rateBytesPerSecond / 2 ** 20).toFixed(1)} MiB/s`;
  const eta = progress.etaSeconds === undefined ? '' : `, about ${Math.ceil(progress.etaSeconds)} s left`;
  const retry = progress.retry;
  return {
    // While qemu-img converts a staged qcow2, the counts are image bytes of its virtual size.
    stage: progress.phase === 'convert' ? 'converting image' : 'writing image',
    done: progress.bytesDone,
    ...(progress.bytesTotal === undefined ? {} : { total: progress.bytesTotal }),
    unit: 'bytes',
    message: retry
      ? `retrying ${retry.attempt}/${retry.attempts} in ${Math.ceil(retry.waitMs / 1000)} s: ${retry.reason} (${retry.url})`
      : `${rate}${eta}`,
  };
}
