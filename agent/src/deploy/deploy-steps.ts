import type { StepContext, StepDefinition } from '../hardware/manager.ts';
import type { Session } from '../session/session.ts';
import { deployImage, parseDeployRequest } from './deploy-image.ts';
import type { ImageDownloadSettings } from './download-settings.ts';
import type { DeployContext } from './write-whole-disk.ts';

/** What an image deployment needs beyond the hardware: the session's lookup facts and where the UUIDs go, and the download settings. */
export interface ImageDeployDeps {
  session: Pick<Session, 'md5Allowed' | 'recordPartitionUuids'>;
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
  const deployed = await deployImage(ctx, params.image_info, {
    md5Allowed: deps.session.md5Allowed,
    configdrive: params.configdrive,
    ...deps.download,
    beforeWrite: () => deps.session.recordPartitionUuids({}),
  });
  deps.session.recordPartitionUuids(deployed.partitionUuids);
  return { result: deployed.result };
}

/**
 * IPA's `write_image` deploy step runs `standby.prepare_image` and waits for
 * it, so its result is `{"result":"prepare_image: ..."}` (ipa-protocol.md 4.3).
 */
export function deploySteps(deps: ImageDeployDeps): StepDefinition[] {
  return [{
    name: 'write_image', kind: 'deploy', priority: 0, interface: 'deploy', abortable: false, rebootRequested: false,
    argsinfo: {
      image_info: { description: 'Information about the image to be deployed', required: true },
      configdrive: { description: 'A config drive: an http(s) URL, or base64 of a gzipped ISO 9660 or vfat image (at most 64 MiB)', required: false },
    },
    run: (ctx: StepContext, args: Record<string, unknown>) => runImageDeploy(ctx, args, deps),
  }];
}
