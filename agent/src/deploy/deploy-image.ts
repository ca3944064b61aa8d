import { IngotError } from '@ingot/protocol';
import { parseConfigDrive, type ConfigDriveSource } from '../image/request/config-drive.ts';
import { parseImageInfo, type ImageInfo } from '../image/request/image-info.ts';
import { loadConfigDrive } from './config-drive-writer.ts';
import { deployPartitionImage } from './write-partition-image.ts';
import { deployWholeDiskImage, type DeployContext, type DeployImageOptions, type DeployImageResult } from './write-whole-disk.ts';

export interface DeployRequest {
  info: ImageInfo;
  /** `prepare_image`'s `configdrive` parameter, else `image_info.configdrive` (9.1); inline drives are decoded already. */
  configDrive: ConfigDriveSource | null;
}

/**
 * Validates what `prepare_image` and the `write_image` step receive, so that
 * the command validator refuses it with a 400 before anything starts: the
 * image_info (9.2) and an inline config drive (bad base64, bad gzip, over
 * 64 MiB, neither ISO 9660 nor vfat). Image server credentials are still
 * refused: the pipeline cannot send them yet.
 */
export function parseDeployRequest(rawImageInfo: unknown, options: DeployImageOptions): DeployRequest {
  const info = parseImageInfo(rawImageInfo, options);
  if (info.imageServerAuthStrategy === 'http_basic' || info.imageRequestAuthorization) {
    throw new IngotError('INGOT_INVALID_PARAMS', { details: 'image server authentication is not supported yet; serve the image without credentials' });
  }
  const given = options.configdrive;
  const configDrive = parseConfigDrive(given !== undefined && given !== null && given !== '' ? given : info.configdrive);
  return { info, configDrive };
}

/**
 * IPA's `prepare_image` / `write_image` (9.5): a whole-disk or a partition
 * image, with its config drive. A config drive given by URL is fetched
 * before the disk is touched, so a bad URL costs nothing.
 */
export async function deployImage(ctx: DeployContext, rawImageInfo: unknown, options: DeployImageOptions): Promise<DeployImageResult> {
  const { info, configDrive } = parseDeployRequest(rawImageInfo, options);
  // The keys only (values may hold credentials): what the conductor sent, for compatibility checks.
  ctx.log.info({ image: info.id, imageType: info.imageType, imageInfoKeys: Object.keys(rawImageInfo as object).sort() }, 'deploy request accepted');
  const drive = configDrive ? await loadConfigDrive(configDrive, ctx.signal) : null;
  return info.imageType === 'partition'
    ? deployPartitionImage(ctx, info, drive, options)
    : deployWholeDiskImage(ctx, info, drive, options);
}
