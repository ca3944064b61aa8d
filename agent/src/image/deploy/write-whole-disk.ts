import { IngotError } from '@ingot/protocol';
import type { StepContext } from '../../hardware/manager.ts';
import type { ChecksumOptions } from '../checksum-spec.ts';
import { parseImageInfo, type ImageInfo } from '../image-info.ts';
import { diskIdentifierFromMbr, partitionUuidsResult, type PartitionUuids } from '../partition-layout.ts';
import { writeImage, type WriteImageOptions, type WriteImageProgress } from '../pipeline/index.ts';
import { rootDeviceHintsOf, selectRootDevice } from '../root-device-hints.ts';
import { readExpectedDigest } from './checksum-file.ts';

/** What an image write needs of a step's context: no ports. */
export type DeployContext = Pick<StepContext, 'system' | 'devices' | 'log' | 'node' | 'signal' | 'progress'>;

export interface DeployImageOptions extends ChecksumOptions {
  /** `prepare_image`'s `configdrive` parameter, else `image_info.configdrive` (4.1). */
  configdrive?: unknown;
  write?: Partial<WriteImageOptions>;
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
  skipZeroBlocks: 'verified', // zero blocks skipped only where the disk zeros them provably (pipeline/zero-runs.ts)
};

/**
 * Validates what `prepare_image` and the `write_image` step receive, so that
 * the command validator can refuse it with a 400 before anything starts.
 * Partition images, config drives and image server credentials are refused
 * until they are written properly: nothing may report a success it did not do.
 */
export function parseDeployRequest(rawImageInfo: unknown, options: DeployImageOptions): ImageInfo {
  const info = parseImageInfo(rawImageInfo, options);
  const refuse = (details: string): never => { throw new IngotError('INGOT_INVALID_PARAMS', { details }); };
  if (info.imageType === 'partition') refuse('partition images are not supported yet; give a whole-disk image');
  const configdrive = options.configdrive ?? info.configdrive;
  if (configdrive !== undefined && configdrive !== null && configdrive !== '') refuse('config drives are not supported yet; deploy without one');
  if (info.imageServerAuthStrategy === 'http_basic' || info.imageRequestAuthorization) {
    refuse('image server authentication is not supported yet; serve the image without credentials');
  }
  return info;
}

/**
 * Writes a whole-disk image to the root device (ipa-protocol.md 9.5): chooses
 * the disk by the node's root device hints, streams, decompresses and
 * verifies the image, then reads the MBR disk signature that Ironic stores as
 * the `root uuid`. A failure after the first write leaves the disk's head and
 * tail zeroed (the pipeline's wipe), never a partial image that could boot.
 */
export async function deployWholeDiskImage(ctx: DeployContext, rawImageInfo: unknown, options: DeployImageOptions): Promise<DeployImageResult> {
  const info = parseDeployRequest(rawImageInfo, options);
  const disk = selectRootDevice(await ctx.devices.listDisks(), rootDeviceHintsOf(ctx.node));
  const log = ctx.log.child({ image: info.id, device: disk.name });
  const firstUrl = info.urls[0]!;
  const expected = await readExpectedDigest(info.checksumSpec, firstUrl, options);
  log.info({ algorithm: expected.algorithm, source: expected.source, format: info.diskFormat }, 'writing whole-disk image');

  options.beforeWrite?.();
  const written = await writeImage({
    urls: info.urls,
    expectedDigest: { algorithm: expected.algorithm, value: expected.expected },
    target: { path: disk.name, size: disk.size },
    guard: ctx.devices.guard,
    system: ctx.system,
    proxy: proxyFor(info, firstUrl),
    signal: ctx.signal,
    log,
    onProgress: (progress) => ctx.progress(describeProgress(progress)),
    options: { ...DEFAULT_WRITE_OPTIONS, ...options.write },
  });

  const rootUuid = diskIdentifierFromMbr(await ctx.system.readRange(disk.name, 0, 512));
  log.info({ format: written.format, bytes: written.imageBytes, digest: written.digest.value, rootUuid, durationMs: written.durationMs }, 'whole-disk image written and verified');
  return {
    result: `prepare_image: image (${info.id}) written to device ${disk.name} root_uuid=${rootUuid}`,
    partitionUuids: partitionUuidsResult({ imageType: 'whole-disk', diskIdentifier: rootUuid }),
  };
}

function describeProgress(progress: WriteImageProgress) {
  const rate = `${(progress.rateBytesPerSecond / 2 ** 20).toFixed(1)} MiB/s`;
  const eta = progress.etaSeconds === undefined ? '' : `, about ${Math.ceil(progress.etaSeconds)} s left`;
  return {
    stage: 'writing image',
    done: progress.bytesDone,
    ...(progress.bytesTotal === undefined ? {} : { total: progress.bytesTotal }),
    unit: 'bytes',
    message: `${rate}${eta}`,
  };
}

/** The proxy for the image URL's scheme (9.1), unless its host is listed in `no_proxy`. */
function proxyFor(info: ImageInfo, url: string): string | undefined {
  const parsed = new URL(url);
  const proxy = parsed.protocol === 'https:' ? info.proxies.https : info.proxies.http;
  if (!proxy) return undefined;
  const host = parsed.hostname.toLowerCase();
  const bypassed = (info.noProxy ?? '').split(',').map((entry) => entry.trim().toLowerCase().replace(/^\*?\./, '')).filter(Boolean)
    .some((entry) => entry === '*' || host === entry || host.endsWith(`.${entry}`));
  return bypassed ? undefined : proxy;
}
