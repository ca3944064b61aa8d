import { describeInput, IngotError, parseStrictBool, type SnapshotDeployInfo } from '@ingot/protocol';
import { chooseChecksumSpec, type ChecksumOptions, type ChecksumSpec } from './checksums.ts';
import { parseSnapshotInfo } from './snapshot-info.ts';

/**
 * IPA's `image_info` (ipa-protocol.md 9.1), validated before the command
 * starts so that every violation is a 400 naming the field (9.2). Ironic
 * builds the dict in `AgentDeploy.write_image` (ironic-conductor.md 4).
 */
export interface ImageInfo {
  id: string;
  urls: string[];
  checksum: string | null;
  osHashAlgo: string | null;
  osHashValue: string | null;
  /** The digest to verify, chosen as IPA does (9.3). */
  checksumSpec: ChecksumSpec;
  diskFormat: string | null;
  /** Sent by Ironic, unused by IPA (9.1). */
  containerFormat: string | null;
  imageType: 'partition' | 'whole-disk';
  streamRawImages: boolean;
  proxies: { http: string | null; https: string | null };
  noProxy: string | null;
  imageServerAuthStrategy: string | null;
  imageServerUser: string | null;
  /** A secret: never logged (the pino root redacts it). */
  imageServerPassword: string | null;
  /** A complete, base64-encoded Authorization header value; wins over basic auth (9.1). A secret. */
  imageRequestAuthorization: string | null;
  nodeUuid: string | null;
  /** Present for partition images only. */
  partition: PartitionImageInfo | null;
  /** The legacy location of the config drive (also a separate parameter of prepare_image). */
  configdrive: string | null;
  /** `ingot_snapshot`: the image is an Ingot snapshot, checked against this (Ingot's extension). */
  snapshot: SnapshotDeployInfo | null;
}

export interface PartitionImageInfo {
  rootMb: number;
  swapMb: number;
  ephemeralMb: number;
  ephemeralFormat: string | null;
  preserveEphemeral: boolean;
  deployBootMode: 'uefi' | 'bios' | null;
  bootOption: string | null;
  diskLabel: 'gpt' | 'msdos' | null;
}

type Dict = Record<string, unknown>;

function invalid(field: string, problem: string): never {
  throw new IngotError('INGOT_INVALID_PARAMS', { details: `image_info.${field} ${problem}` });
}

function isDict(value: unknown): value is Dict {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Fields whose value is a secret: an error names their kind, never their content. */
const secretFields: ReadonlySet<string> = new Set(['image_server_password', 'image_request_authorization']);
/** Fields that may hold a URL with credentials or a signature: shown through redactUrl. */
const urlFields: ReadonlySet<string> = new Set(['proxies.http', 'proxies.https', 'configdrive', 'no_proxy']);

function optionalString(info: Dict, field: string, parent = info, label = field): string | null {
  const value = parent[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') invalid(label, `must be a string, got ${describeInput(value, { secret: secretFields.has(label), url: urlFields.has(label) })}`);
  return value;
}

function nonEmptyString(info: Dict, field: string): string {
  const value = info[field];
  if (typeof value !== 'string' || value.trim() === '') invalid(field, 'must be a non-empty string');
  return value;
}

/** Ironic sends ints; a decimal string is taken too, as Python's int() would. */
function megabytes(info: Dict, field: string, required: boolean): number {
  const value = info[field];
  if (value === undefined || value === null) {
    if (required) invalid(field, 'is required for a partition image');
    return 0;
  }
  const number = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 0) invalid(field, `must be a non-negative integer (MiB), got ${describeInput(value)}`);
  return number;
}

function bool(info: Dict, field: string, fallback: boolean): boolean {
  const value = info[field];
  if (value === undefined || value === null) return fallback;
  const parsed = parseStrictBool(value);
  if (parsed === undefined) invalid(field, `must be a boolean, got ${describeInput(value)}`);
  return parsed;
}

function oneOf<T extends string>(info: Dict, field: string, allowed: readonly T[]): T | null {
  const value = optionalString(info, field);
  if (value === null || value === '') return null;
  if (!(allowed as readonly string[]).includes(value)) invalid(field, `must be one of ${allowed.join(', ')}, got ${describeInput(value)}`);
  return value as T;
}

function parseUrls(info: Dict): string[] {
  const urls = info.urls;
  if (!Array.isArray(urls) || urls.length === 0) invalid('urls', 'must be a list with at least one element');
  // Array.from visits holes too: map would skip a sparse list's missing URL (found by fuzzing).
  return Array.from(urls as unknown[], (url, index) => {
    if (typeof url !== 'string' || !/^https?:\/\/\S+$/i.test(url)) invalid(`urls[${index}]`, `must be an http(s) URL, got ${describeInput(url, { url: true })}`);
    return url;
  });
}

function parsePartition(info: Dict): PartitionImageInfo {
  const rootMb = megabytes(info, 'root_mb', true);
  if (rootMb === 0) invalid('root_mb', 'must be positive for a partition image');
  return {
    rootMb,
    swapMb: megabytes(info, 'swap_mb', false),
    ephemeralMb: megabytes(info, 'ephemeral_mb', false),
    ephemeralFormat: optionalString(info, 'ephemeral_format') || null,
    preserveEphemeral: bool(info, 'preserve_ephemeral', false),
    deployBootMode: oneOf(info, 'deploy_boot_mode', ['uefi', 'bios']),
    bootOption: optionalString(info, 'boot_option'),
    diskLabel: oneOf(info, 'disk_label', ['gpt', 'msdos']),
  };
}

/**
 * IPA's image server auth: `http_basic` needs both the user and the password
 * (its `_verify_basic_auth_creds`); `noauth` or nothing means no credentials.
 */
function parseAuth(info: Dict): Pick<ImageInfo, 'imageServerAuthStrategy' | 'imageServerUser' | 'imageServerPassword'> {
  const strategy = oneOf(info, 'image_server_auth_strategy', ['http_basic', 'noauth']);
  const user = optionalString(info, 'image_server_user');
  const password = optionalString(info, 'image_server_password');
  if (strategy === 'http_basic') {
    if (!user) invalid('image_server_user', 'is required with image_server_auth_strategy http_basic');
    if (!password) invalid('image_server_password', 'is required with image_server_auth_strategy http_basic');
  }
  return { imageServerAuthStrategy: strategy, imageServerUser: user, imageServerPassword: password };
}

/**
 * Validates `image_info` as IPA's `_validate_image_info` does (9.2), and more
 * strictly where IPA would only fail later in the thread: URLs must be http(s)
 * and a plain digest must have a known length, so a typo is a 400, not a
 * failed deploy.
 */
export function parseImageInfo(raw: unknown, options: ChecksumOptions): ImageInfo {
  if (!isDict(raw)) throw new IngotError('INGOT_INVALID_PARAMS', { details: 'image_info must be an object' });
  if (!('id' in raw)) invalid('id', "is missing (Image is missing 'id' field)");
  const id = nonEmptyString(raw, 'id');
  if (!('urls' in raw)) invalid('urls', "is missing (Image is missing 'urls' field)");
  const urls = parseUrls(raw);

  // 9.2: checksum, if present, must be a non-empty string; if either os_hash
  // field is present, both must be.
  let checksum: string | null = null;
  if (raw.checksum !== undefined && raw.checksum !== null) checksum = nonEmptyString(raw, 'checksum');
  let osHashAlgo: string | null = null;
  let osHashValue: string | null = null;
  if (raw.os_hash_algo || raw.os_hash_value) {
    osHashAlgo = nonEmptyString(raw, 'os_hash_algo');
    osHashValue = nonEmptyString(raw, 'os_hash_value');
  }
  const checksumSpec = chooseChecksumSpec({ checksum, osHashAlgo, osHashValue }, options);

  const proxies = raw.proxies;
  if (proxies !== undefined && proxies !== null && !isDict(proxies)) invalid('proxies', 'must be an object {http, https}');
  const proxyDict = proxies ?? {};

  const imageType = raw.image_type === 'partition' ? 'partition' : 'whole-disk'; // 9.1: anything else is whole-disk
  const configdrive = optionalString(raw, 'configdrive');
  const auth = parseAuth(raw);
  const snapshot = parseSnapshotInfo(raw.ingot_snapshot);
  if (snapshot && imageType === 'partition') invalid('ingot_snapshot', 'is for whole-disk images: a snapshot holds a whole disk (its partition table included); deploy it with image_type whole-disk');
  return {
    id,
    urls,
    checksum,
    osHashAlgo,
    osHashValue,
    checksumSpec,
    diskFormat: optionalString(raw, 'disk_format'),
    containerFormat: optionalString(raw, 'container_format'),
    imageType,
    streamRawImages: bool(raw, 'stream_raw_images', false), // IPA's default when absent
    proxies: {
      http: optionalString(raw, 'http', proxyDict, 'proxies.http') || null,
      https: optionalString(raw, 'https', proxyDict, 'proxies.https') || null,
    },
    noProxy: optionalString(raw, 'no_proxy') || null,
    ...auth,
    imageRequestAuthorization: optionalString(raw, 'image_request_authorization') || null,
    nodeUuid: optionalString(raw, 'node_uuid'),
    partition: imageType === 'partition' ? parsePartition(raw) : null,
    configdrive: configdrive || null,
    snapshot,
  };
}

