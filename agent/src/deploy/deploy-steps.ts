import { IngotError } from '@ingot/protocol';
import { chooseRootDevice } from '../disks/choose-root-device.ts';
import type { StepContext, StepDefinition } from '../hardware/manager.ts';
import type { Session } from '../session/session.ts';
import { loadConfigDrive, writeWholeDiskConfigDrive } from './config-drive-writer.ts';
import { deployImage, parseDeployRequest, type DeployRequest } from './deploy-image.ts';
import type { ImageDownloadSettings } from './download-settings.ts';
import { readWholeDiskUuids, type DeployContext } from './write-whole-disk.ts';

/** What an image deployment needs beyond the hardware: the session's lookup facts and where the UUIDs go, and the download settings. */
export interface ImageDeployDeps {
  session: Pick<Session, 'md5Allowed' | 'recordPartitionUuids' | 'cachedImage' | 'recordCachedImage'>;
  download: ImageDownloadSettings;
}

/** `prepare_image`'s and `write_image`'s parameters (ipa-protocol.md 4.1, 9.1). */
export interface ImageDeployParams {
  image_info?: unknown;
  configdrive?: unknown;
}

/** Refuses a bad image_info or inline config drive with a 400 before anything starts (IPA's validator, 9.2). */
export function validateImageDeploy(params: ImageDeployParams, deps: ImageDeployDeps): void {
  parseDeployRequest(params.image_info, { md5Allowed: deps.session.md5Allowed, configdrive: params.configdrive });
}

/**
 * One image deployment, for `standby.prepare_image` and the `write_image`
 * deploy step alike: the partition UUIDs of the previous image are dropped
 * before the first byte may be written, and the new ones recorded once the
 * image is verified (what `standby.get_partition_uuids` answers, 9.8).
 */
export async function runImageDeploy(ctx: DeployContext, params: ImageDeployParams, deps: ImageDeployDeps): Promise<{ result: string }> {
  if (deps.session.cachedImage) {
    const request = parseDeployRequest(params.image_info, { md5Allowed: deps.session.md5Allowed, configdrive: params.configdrive });
    const cachedOn = await cachedDisk(ctx, request, deps);
    if (cachedOn) return { result: `prepare_image: ${await useCachedImage(ctx, request, cachedOn, deps)}` };
  }
  const deployed = await deployImage(ctx, params.image_info, {
    md5Allowed: deps.session.md5Allowed,
    configdrive: params.configdrive,
    ...deps.download,
    beforeWrite: () => {
      deps.session.recordPartitionUuids({});
      deps.session.recordCachedImage(undefined);
    },
  });
  deps.session.recordPartitionUuids(deployed.partitionUuids);
  return { result: deployed.result };
}

/** `standby.cache_image`'s parameters: `image_info` (its config drive ignored) and `force`. */
export interface CacheImageParams {
  image_info?: unknown;
  force?: unknown;
}

/** The image_info without a config drive: cache_image writes the image alone. */
function imageOnly(imageInfo: unknown): unknown {
  if (imageInfo === null || typeof imageInfo !== 'object' || Array.isArray(imageInfo)) return imageInfo;
  const { configdrive: _ignored, ...rest } = imageInfo as Record<string, unknown>;
  return rest;
}

/** Refuses what cache_image cannot do with a 400 before anything starts. */
export function validateCacheImage(params: CacheImageParams, deps: ImageDeployDeps): DeployRequest {
  if (params.force !== undefined && params.force !== null && typeof params.force !== 'boolean') {
    throw new IngotError('INGOT_INVALID_PARAMS', { details: '"force" must be true or false' });
  }
  const request = parseDeployRequest(imageOnly(params.image_info), { md5Allowed: deps.session.md5Allowed });
  if (request.info.imageType === 'partition') {
    throw new IngotError('INGOT_INVALID_PARAMS', { details: '"image_info": cache_image takes whole-disk images only; deploy a partition image with prepare_image or write_image' });
  }
  return request;
}

/**
 * `standby.cache_image` (IPA before 10.0; ipa-protocol.md 4.1, 10.1): writes
 * the image to the root device exactly as prepare_image does but without a
 * config drive, and remembers it, so that a later prepare_image or
 * write_image of the same image to the same disk skips the write. With
 * `force`, or when another disk is chosen now, it writes again. Returns IPA's
 * message; the runner adds `cache_image: `.
 */
export async function runCacheImage(ctx: DeployContext, params: CacheImageParams, deps: ImageDeployDeps): Promise<string> {
  const request = validateCacheImage(params, deps);
  const cachedOn = params.force === true ? undefined : await cachedDisk(ctx, request, deps);
  if (cachedOn) return useCachedImage(ctx, { ...request, configDrive: null }, cachedOn, deps);
  const disk = await chooseRootDevice(ctx);
  const deployed = await deployImage(ctx, imageOnly(params.image_info), {
    md5Allowed: deps.session.md5Allowed,
    ...deps.download,
    beforeWrite: () => {
      deps.session.recordPartitionUuids({});
      deps.session.recordCachedImage(undefined);
    },
  });
  deps.session.recordPartitionUuids(deployed.partitionUuids);
  deps.session.recordCachedImage({ id: request.info.id, device: disk.name });
  return `image (${request.info.id}) cached to device ${disk.name} root_uuid=${String(deployed.partitionUuids['root uuid'] ?? '')}`;
}

/** The disk holding this very image from cache_image, if the node's hints still choose it. */
async function cachedDisk(ctx: DeployContext, request: DeployRequest, deps: ImageDeployDeps) {
  const cached = deps.session.cachedImage;
  if (!cached || cached.id !== request.info.id || request.info.imageType === 'partition') return undefined;
  const disk = await chooseRootDevice(ctx);
  if (disk.name === cached.device) return disk;
  ctx.log.info({ image: cached.id, cachedOn: cached.device, chosen: disk.name }, 'the image was cached on another disk than the one chosen now; writing it again');
  return undefined;
}

/** The image is on the disk already: only a config drive is added (as IPA does), and the UUIDs are read again. */
async function useCachedImage(ctx: DeployContext, request: DeployRequest, disk: Awaited<ReturnType<typeof cachedDisk>> & object, deps: ImageDeployDeps): Promise<string> {
  const log = ctx.log.child({ image: request.info.id, device: disk.name });
  if (request.configDrive) {
    const drive = await loadConfigDrive(request.configDrive, ctx.signal);
    // The disk is no longer the image alone: the next write must not count on the cache.
    deps.session.recordCachedImage(undefined);
    await writeWholeDiskConfigDrive({ system: ctx.system, devices: ctx.devices, log }, disk, drive);
  }
  const partitionUuids = await readWholeDiskUuids(ctx.system, disk);
  const rootUuid = partitionUuids['root uuid'];
  deps.session.recordPartitionUuids(partitionUuids);
  log.info({ rootUuid, configDrive: request.configDrive !== null }, 'image already cached on the disk: not written again');
  return `image (${request.info.id}) already present on device ${disk.name} root_uuid=${rootUuid}`;
}

/**
 * IPA's `write_image` deploy step runs `standby.prepare_image` and waits for
 * it, so its result is `{"result":"prepare_image: ..."}` (ipa-protocol.md 4.3).
 */
export function deploySteps(deps: ImageDeployDeps): StepDefinition[] {
  const writeImage = {
    name: 'write_image', priority: 0, interface: 'deploy', abortable: false, rebootRequested: false,
    argsinfo: {
      image_info: { description: 'Information about the image to be deployed', required: true },
      configdrive: { description: 'A config drive: an http(s) URL, or base64 of a gzipped ISO 9660 or vfat image (at most 64 MiB)', required: false },
    },
    run: (ctx: StepContext, args: Record<string, unknown>) => runImageDeploy(ctx, args, deps),
  };
  // Servicing an active node may rewrite its image too (5.6: write_image is also a service step).
  return [{ ...writeImage, kind: 'deploy' }, { ...writeImage, kind: 'service' }];
}
