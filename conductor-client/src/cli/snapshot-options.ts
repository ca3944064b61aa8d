/**
 * The object-store options of `ingot-conductor snapshot` and `deploy
 * --snapshot`: where the image goes (or comes from) on the command line,
 * the secrets only in the environment (never in argv, which any user of the
 * machine can read in /proc): INGOT_SWIFT_KEY or INGOT_SWIFT_TOKEN (and,
 * optionally, INGOT_SWIFT_TEMP_URL_KEY), INGOT_S3_ACCESS_KEY and INGOT_S3_SECRET_KEY.
 */
import type { Logger } from 'pino';
import { Command, oneOf, Option, UsageError, valueParser } from '@ingot/protocol/cli';
import { createHttpPutStore } from '../snapshot/http-put-store.ts';
import { createS3Store } from '../snapshot/s3-store.ts';
import type { SnapshotStore } from '../snapshot/snapshot-store.ts';
import { createSwiftStore } from '../snapshot/swift-store.ts';

export const STORE_KINDS = ['swift', 's3', 'put'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/** What the command line says about the store; the secrets come from the environment when it is built. */
export type StoreSpec =
  | { kind: 'swift'; url: string; account: string; user?: string; container: string; object: string; segmentSize?: number; urlTtlSeconds: number }
  | { kind: 's3'; endpoint: string; region: string; bucket: string; key: string; segmentSize?: number; urlTtlSeconds: number }
  | { kind: 'put'; url: string; urlTtlSeconds: number };

export const ENV = {
  swiftKey: 'INGOT_SWIFT_KEY', swiftToken: 'INGOT_SWIFT_TOKEN', swiftTempUrlKey: 'INGOT_SWIFT_TEMP_URL_KEY',
  s3AccessKey: 'INGOT_S3_ACCESS_KEY', s3SecretKey: 'INGOT_S3_SECRET_KEY',
} as const;

const MiB = 1024 * 1024;
const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kib: 1024, m: MiB, mib: MiB, g: 1024 * MiB, gib: 1024 * MiB };

/** `64MiB`, `64M`, `1GiB`, or bytes. */
export const parseSize = valueParser((value: string) => {
  const match = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(value);
  const unit = UNITS[match?.[2]?.toLowerCase() ?? 'x'];
  const bytes = match && unit ? Number(match[1]) * unit : Number.NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new Error(`expected a size such as 64MiB, 512M, 1GiB or a number of bytes, got "${value}"`);
  return bytes;
});

const parseHttpUrl = valueParser((value: string) => {
  if (!/^https?:\/\/[^/]/i.test(value)) throw new Error(`expected an http(s) URL, got "${value}"`);
  return value;
});

const parseName = valueParser((value: string) => {
  if (!value.trim()) throw new Error('expected a name, got ""');
  return value;
});

const parseTtl = valueParser((value: string) => {
  const seconds = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(seconds >= 10) || !Number.isSafeInteger(seconds)) throw new Error(`expected whole seconds, at least 10, got "${value}"`);
  return seconds;
});

/** Adds the store options to `command`; `purpose` says what the URLs are for in the help. */
export function addStoreOptions(command: Command, purpose: 'upload' | 'read'): Command {
  return command
    .addOption(new Option('--store <kind>', purpose === 'upload'
      ? 'where the image goes: swift (static large object by temp URLs), s3 (multipart by presigned URLs) or put (one HTTP PUT, e.g. nginx WebDAV)'
      : 'with --snapshot: the store to sign the image\'s read URL with (swift or s3); without it the image is read from a plain URL').argParser(oneOf(STORE_KINDS)))
    .addOption(new Option('--swift-url <url>', 'Swift proxy, e.g. http://127.0.0.1:8080').argParser(parseHttpUrl))
    .addOption(new Option('--swift-account <account>', 'Swift account, e.g. AUTH_test').argParser(parseName))
    .addOption(new Option('--swift-user <user>', `tempauth user (e.g. test:tester) whose key is in ${ENV.swiftKey}; else the token in ${ENV.swiftToken}`).argParser(parseName))
    .addOption(new Option('--container <name>', 'Swift container of the image (segments go to <name>_segments)').argParser(parseName))
    .addOption(new Option('--object <name>', 'Swift object name of the image; its manifest is <name>.manifest.json').argParser(parseName))
    .addOption(new Option('--s3-endpoint <url>', `S3 endpoint (path-style), e.g. http://127.0.0.1:8080; keys in ${ENV.s3AccessKey} and ${ENV.s3SecretKey}`).argParser(parseHttpUrl))
    .addOption(new Option('--s3-region <region>', 'S3 region the signatures name').default('us-east-1').argParser(parseName))
    .addOption(new Option('--bucket <name>', 'S3 bucket of the image').argParser(parseName))
    .addOption(new Option('--key <name>', 'S3 key of the image; its manifest is <key>.manifest.json').argParser(parseName))
    .addOption(new Option('--put-url <url>', purpose === 'upload'
      ? 'with --store put: the URL the agent PUTs the image to; the manifest goes to <url>.manifest.json'
      : 'with --store put: the image\'s plain URL').argParser(parseHttpUrl))
    .addOption(new Option('--url-ttl <seconds>', `how long each signed URL handed to the agent stays valid (at least 10)`).default(3600).argParser(parseTtl));
}

export interface StoreOptions {
  store?: StoreKind;
  swiftUrl?: string;
  swiftAccount?: string;
  swiftUser?: string;
  container?: string;
  object?: string;
  s3Endpoint?: string;
  s3Region?: string;
  bucket?: string;
  key?: string;
  putUrl?: string;
  urlTtl?: number | string;
  segmentSize?: number;
}

/** The store the options describe; a missing option is a usage error naming it and the store that needs it. */
export function storeSpecOf(options: StoreOptions): StoreSpec | undefined {
  if (!options.store) return undefined;
  const need = <T>(value: T | undefined, flag: string): T => {
    if (value === undefined) throw new UsageError(`--store ${options.store} needs ${flag}`);
    return value;
  };
  const urlTtlSeconds = Number(options.urlTtl ?? 3600);
  if (options.store === 'swift') {
    return {
      kind: 'swift', url: need(options.swiftUrl, '--swift-url'), account: need(options.swiftAccount, '--swift-account'), user: options.swiftUser,
      container: need(options.container, '--container'), object: need(options.object, '--object'), segmentSize: options.segmentSize, urlTtlSeconds,
    };
  }
  if (options.store === 's3') {
    return {
      kind: 's3', endpoint: need(options.s3Endpoint, '--s3-endpoint'), region: options.s3Region ?? 'us-east-1',
      bucket: need(options.bucket, '--bucket'), key: need(options.key, '--key'), segmentSize: options.segmentSize, urlTtlSeconds,
    };
  }
  return { kind: 'put', url: need(options.putUrl, '--put-url'), urlTtlSeconds };
}

/** Builds the store, its secrets read from `env`; a missing secret is a usage error naming the variable. */
export function createStoreFromSpec(spec: StoreSpec, env: Record<string, string | undefined>, log: Logger): SnapshotStore {
  const secret = (name: string, why: string) => {
    const value = env[name];
    if (!value) throw new UsageError(`${why}: set ${name} in the environment (secrets never go on the command line)`);
    return value;
  };
  if (spec.kind === 'swift') {
    const auth = spec.user
      ? { user: spec.user, key: secret(ENV.swiftKey, `--swift-user ${spec.user} needs its key`) }
      : { token: secret(ENV.swiftToken, 'Swift needs a token (or --swift-user with its key)') };
    return createSwiftStore({
      proxyUrl: spec.url, account: spec.account, auth, tempUrlKey: env[ENV.swiftTempUrlKey] || undefined, container: spec.container, object: spec.object,
      segmentSize: spec.segmentSize, urlTtlSeconds: spec.urlTtlSeconds, log,
    });
  }
  if (spec.kind === 's3') {
    return createS3Store({
      endpoint: spec.endpoint, region: spec.region, bucket: spec.bucket, key: spec.key,
      accessKey: secret(ENV.s3AccessKey, 'S3 needs an access key'), secretKey: secret(ENV.s3SecretKey, 'S3 needs a secret key'),
      segmentSize: spec.segmentSize, urlTtlSeconds: spec.urlTtlSeconds, log,
    });
  }
  return createHttpPutStore({ url: spec.url, log });
}
