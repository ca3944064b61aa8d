/**
 * The image a conductor deploys, and `image_info` built from it as Ironic's
 * `AgentDeploy.write_image` builds it (ironic-conductor.md §4; the agent's
 * side is ipa-protocol.md §9.1).
 */
import { IngotError, type SnapshotDeployInfo, type SnapshotManifest } from '@ingot/protocol';

/**
 * How the agent verifies the image:
 * - `{ algorithm, value }` → `os_hash_algo` + `os_hash_value` (Glance's pair; the value may be a checksum-file URL);
 * - `{ url }` → legacy `checksum` holding a checksum-file URL;
 * - `{ legacy }` → legacy `checksum` holding a bare hex value (the agent infers the algorithm from its length).
 */
export type ImageChecksum = { algorithm: string; value: string } | { url: string } | { legacy: string };

/** A whole-disk image to deploy, as a conductor's instance_info would describe it. */
export interface DeployImage {
  /** http(s) URL the agent downloads the image from (`instance_info.image_url`). */
  url: string;
  checksum: ImageChecksum;
  /** Default 'raw'. */
  diskFormat?: string | null;
  /** Default 'bare'. */
  containerFormat?: string | null;
  /** driver_info `image_http_proxy` / `image_https_proxy`. */
  proxies?: { http?: string; https?: string };
  /** driver_info `image_no_proxy`. */
  noProxy?: string;
  /** An Ingot snapshot: sent as `image_info.ingot_snapshot`, which the agent checks against the seek table before writing. */
  snapshot?: SnapshotDeployInfo;
}

/**
 * The image to deploy a snapshot: `url` (a signed read URL or a plain one),
 * its checksum the sha256 of the object as stored, raw, and what the agent
 * checks against the seek table and the written bytes.
 */
export function snapshotDeployImage(manifest: SnapshotManifest, url: string): DeployImage {
  return {
    url,
    checksum: { algorithm: 'sha256', value: manifest.image.sha256 },
    diskFormat: 'raw',
    snapshot: {
      raw_bytes: manifest.raw.bytes, raw_sha256: manifest.raw.sha256, image_bytes: manifest.image.bytes,
      frames: manifest.image.frames, frame_size: manifest.image.frame_size,
    },
  };
}

const invalid = (details: string) => new IngotError('INGOT_CONFIG_INVALID', { details });
const isHttpUrl = (value: string) => /^https?:\/\//i.test(value);

/**
 * Reads a checksum as given on a command line: `sha256:<hex>` or
 * `sha512:<url of a checksum file>` (the os_hash pair), a bare checksum-file
 * URL, or a bare hex value (legacy `checksum`).
 */
export function parseImageChecksum(text: string): ImageChecksum {
  const value = text.trim();
  if (isHttpUrl(value)) return { url: value };
  const pair = /^([a-z0-9_-]+):(.+)$/i.exec(value);
  if (pair) {
    const algorithm = pair[1]!.toLowerCase();
    const digest = pair[2]!.trim();
    if (!isHttpUrl(digest) && !/^[0-9a-f]+$/i.test(digest)) throw invalid(`the ${algorithm} checksum "${digest}" is neither hex nor an http(s) URL`);
    // The agent compares with a lower-case hexdigest; an upper-case value would fail (ipa-protocol.md §9.3).
    return { algorithm, value: isHttpUrl(digest) ? digest : digest.toLowerCase() };
  }
  if (/^[0-9a-f]{32}$|^[0-9a-f]{64}$|^[0-9a-f]{128}$/i.test(value)) return { legacy: value.toLowerCase() };
  throw invalid(`image checksum "${text}" must be <algorithm>:<hex or URL> (e.g. sha256:…), a checksum-file URL, or 32/64/128 hex digits`);
}

/** The image's `id`: the last path segment of its URL, as Ironic takes it from `image_source`. */
export function imageIdOf(url: string): string {
  const path = new URL(url).pathname;
  return decodeURIComponent(path.split('/').filter(Boolean).at(-1) ?? '') || new URL(url).hostname;
}

/** `image_info` for a whole-disk image, in the shape Ironic 21.4 sends it (ironic-conductor.md §4). */
export function buildImageInfo(image: DeployImage, nodeUuid: string): Record<string, unknown> {
  if (!isHttpUrl(image.url)) throw invalid(`image URL "${image.url}" must be http or https`);
  const checksum = image.checksum;
  const info: Record<string, unknown> = {
    id: imageIdOf(image.url),
    urls: [image.url],
    disk_format: image.diskFormat === undefined ? 'raw' : image.diskFormat,
    container_format: image.containerFormat === undefined ? 'bare' : image.containerFormat,
    // Ironic's [agent]stream_raw_images default.
    stream_raw_images: true,
    ...('algorithm' in checksum ? { os_hash_algo: checksum.algorithm, os_hash_value: checksum.value } : {}),
    ...('url' in checksum ? { checksum: checksum.url } : {}),
    ...('legacy' in checksum ? { checksum: checksum.legacy } : {}),
    node_uuid: nodeUuid,
    ...(image.snapshot ? { ingot_snapshot: image.snapshot } : {}),
  };
  // Ironic adds proxies only when some are configured, and no_proxy with them.
  const proxies = Object.fromEntries(Object.entries(image.proxies ?? {}).filter(([, value]) => Boolean(value)));
  if (Object.keys(proxies).length > 0) {
    info.proxies = proxies;
    if (image.noProxy !== undefined) info.no_proxy = image.noProxy;
  }
  return info;
}
