/**
 * A snapshot in OpenStack Swift as a static large object: the agent PUTs
 * each segment to a temp URL (`<object>.segments/<8 digits>` in the segments
 * container), the conductor then PUTs the SLO manifest with its own token
 * (tempurl drops `?multipart-manifest=put`, see protocol/src/snapshot.ts),
 * which makes Swift check every segment's etag and size, and stores the
 * snapshot's manifest as `<object>.manifest.json`.
 */
import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { IngotError, redactUrl, type SnapshotCaptureResult, type SnapshotManifest, type SnapshotTarget } from '@ingot/protocol';
import { MAX_SNAPSHOT_SEGMENTS } from '@ingot/protocol';
import { planSegments, SWIFT_MAX_SEGMENTS } from './segment-plan.ts';
import { checkedSegments, DEFAULT_URL_TTL_SECONDS, manifestName, parseSnapshotManifest, type SnapshotStore } from './snapshot-store.ts';
import { storeError, storeRequest } from './store-http.ts';
import { swiftTempUrl } from './swift-temp-url.ts';

export interface SwiftStoreOptions {
  /** The proxy: `http://host:port`. */
  proxyUrl: string;
  /** `AUTH_test`. */
  account: string;
  /** A token for the account, or tempauth's user and key to get one from `/auth/v1.0`. */
  auth: { token: string } | { user: string; key: string };
  /** The account's Temp-URL-Key; read with a HEAD on the account when absent (and set to a random one if the account has none). */
  tempUrlKey?: string;
  container: string;
  object: string;
  /** Where the segments go; default `<container>_segments` (created when missing). */
  segmentContainer?: string;
  /** Bytes per segment; default 64 MiB, raised so that at most 10000 segment URLs are needed (MAX_SNAPSHOT_SEGMENTS). */
  segmentSize?: number;
  /**
   * Segments one static large object's manifest may list: the cluster's
   * `max_manifest_segments` (Swift's default 1000). More segments are
   * completed as nested manifests: sub-manifests of this many, and the
   * object's manifest listing them.
   */
  maxManifestSegments?: number;
  /** Seconds the agent's URLs stay valid; default 3600. */
  urlTtlSeconds?: number;
  log?: Logger;
}

const segmentName = (object: string, index: number) => `${object}.segments/${String(index).padStart(8, '0')}`;
/** A nested manifest of segments: named under the segments' prefix, so abandon() finds it with them. */
const subManifestName = (object: string, index: number) => `${object}.segments/manifest-${String(index).padStart(4, '0')}`;

export function createSwiftStore(options: SwiftStoreOptions): SnapshotStore {
  const proxyUrl = options.proxyUrl.replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/i.test(proxyUrl)) throw new IngotError('INGOT_CONFIG_INVALID', { details: `the Swift proxy URL must be http(s), got "${redactUrl(proxyUrl)}"` });
  for (const [name, value] of [['account', options.account], ['container', options.container], ['object', options.object]] as const) {
    if (!value || value.includes('/') && name !== 'object') throw new IngotError('INGOT_CONFIG_INVALID', { details: `the Swift ${name} must be a non-empty name${name === 'object' ? '' : ' without "/"'}, got "${value}"` });
  }
  const log = (options.log ?? pino({ level: 'silent' })).child({ store: 'swift' });
  const segmentContainer = options.segmentContainer ?? `${options.container}_segments`;
  const ttl = options.urlTtlSeconds ?? DEFAULT_URL_TTL_SECONDS;
  const accountPath = `/v1/${options.account}`;
  const objectPath = (container: string, object: string) => `${accountPath}/${container}/${object}`;
  const plainUrl = (path: string) => `${proxyUrl}${path.split('/').map((part) => encodeURIComponent(part)).join('/')}`;
  let token: string | undefined = 'token' in options.auth ? options.auth.token : undefined;
  let tempUrlKey = options.tempUrlKey;
  let signed = 0;
  // Set once this store's SLO manifest replaced the object: only then may abandon() delete the object (an older snapshot stays otherwise).
  let objectWritten = false;

  async function authToken(): Promise<string> {
    if (token) return token;
    const auth = options.auth as { user: string; key: string };
    const response = await storeRequest(`tempauth for ${auth.user}`, `${proxyUrl}/auth/v1.0`, { method: 'GET', headers: { 'X-Auth-User': auth.user, 'X-Auth-Key': auth.key } }, [200, 204]);
    const issued = response.headers.get('x-auth-token');
    if (!issued) throw storeError(`tempauth for ${auth.user}`, `${proxyUrl}/auth/v1.0`, 'the answer carries no X-Auth-Token');
    token = issued;
    return issued;
  }

  async function withToken(what: string, path: string, init: { method: string; headers?: Record<string, string>; body?: string }, accept: number[], query = '') {
    return storeRequest(what, `${plainUrl(path)}${query}`, { ...init, headers: { ...init.headers, 'X-Auth-Token': await authToken() } }, accept);
  }

  async function signingKey(): Promise<string> {
    if (tempUrlKey) return tempUrlKey;
    const head = await withToken(`HEAD the account ${options.account} for its Temp-URL-Key`, accountPath, { method: 'HEAD' }, [200, 204]);
    const existing = head.headers.get('x-account-meta-temp-url-key');
    if (existing) {
      tempUrlKey = existing;
      return existing;
    }
    // No key yet means no temp URL of this account can exist: setting one breaks nothing.
    const fresh = randomBytes(32).toString('hex');
    await withToken(`set a Temp-URL-Key on the account ${options.account}`, accountPath, { method: 'POST', headers: { 'X-Account-Meta-Temp-URL-Key': fresh } }, [204]);
    log.info({ account: options.account }, 'the account had no Temp-URL-Key; set a random one');
    tempUrlKey = fresh;
    return fresh;
  }

  const tempUrl = async (method: string, path: string, seconds: number) => swiftTempUrl({ key: await signingKey(), method, proxyUrl, path, ttlSeconds: seconds });

  /** The names of the segments this object has in the segments container (a listing, not the URLs signed: a retry may have left fewer). */
  async function listSegments(): Promise<string[]> {
    const prefix = `${options.object}.segments/`;
    const names: string[] = [];
    for (let marker = ''; ;) {
      const query = `?format=json&prefix=${encodeURIComponent(prefix)}${marker ? `&marker=${encodeURIComponent(marker)}` : ''}`;
      const listed = await withToken(`list the segments in ${segmentContainer}`, `${accountPath}/${segmentContainer}`, { method: 'GET' }, [200, 204, 404], query);
      if (listed.status !== 200) return names;
      const page = (JSON.parse(listed.text) as Array<{ name: string }>).map((entry) => entry.name);
      if (page.length === 0) return names;
      names.push(...page);
      marker = page.at(-1)!;
    }
  }

  return {
    type: 'swift',
    location: `${proxyUrl}${objectPath(options.container, options.object)}`,

    async prepare(rawBytes, prepareOptions = {}): Promise<SnapshotTarget> {
      const plan = planSegments(rawBytes, { requested: options.segmentSize, maxSegments: MAX_SNAPSHOT_SEGMENTS, frameSize: prepareOptions.frameSize });
      // PUT on a container is idempotent (201 made, 202 already there).
      for (const container of new Set([options.container, segmentContainer])) {
        await withToken(`create the container ${container}`, `${accountPath}/${container}`, { method: 'PUT' }, [201, 202]);
      }
      const segment_urls: string[] = [];
      for (let index = 0; index < plan.count; index++) segment_urls.push(await tempUrl('PUT', objectPath(segmentContainer, segmentName(options.object, index)), ttl));
      signed = plan.count;
      log.info({ segments: plan.count, segmentSize: plan.segmentSize, first: redactUrl(segment_urls[0]!), ttl }, 'signed the segment URLs');
      return { type: 'swift', segment_urls, segment_size: plan.segmentSize };
    },

    async complete(result: SnapshotCaptureResult): Promise<SnapshotManifest> {
      const segments = checkedSegments(result, 'swift', signed || Number.MAX_SAFE_INTEGER);
      const entries = segments.map((segment) => ({
        path: `/${segmentContainer}/${segmentName(options.object, segment.index)}`, etag: segment.etag ?? segment.md5, size_bytes: segment.bytes,
      }));
      // Swift checks each segment's etag and size at every manifest PUT and refuses the whole manifest (400) on any mismatch.
      const perManifest = options.maxManifestSegments ?? SWIFT_MAX_SEGMENTS;
      let slo: Array<{ path: string; etag: string | null; size_bytes: number | null }> = entries;
      if (entries.length > perManifest) {
        // Nested: sub-manifests of perManifest segments each (Swift nests up to 10 levels; two are enough for MAX_SNAPSHOT_SEGMENTS).
        slo = [];
        for (let start = 0, index = 0; start < entries.length; start += perManifest, index++) {
          const group = entries.slice(start, start + perManifest);
          const name = subManifestName(options.object, index);
          await withToken(`PUT the nested manifest ${segmentContainer}/${name} (${group.length} segments)`, objectPath(segmentContainer, name),
            { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: JSON.stringify(group) }, [201], '?multipart-manifest=put');
          // Its segments were checked just now; the outer entry leaves etag and size to Swift.
          slo.push({ path: `/${segmentContainer}/${name}`, etag: null, size_bytes: null });
        }
      }
      await withToken(`PUT the static large object's manifest of ${options.container}/${options.object} (${entries.length} segments${slo === entries ? '' : ` in ${slo.length} nested manifests`})`, objectPath(options.container, options.object),
        { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: JSON.stringify(slo) }, [201], '?multipart-manifest=put');
      objectWritten = true;
      await withToken(`PUT ${manifestName(options.object)}`, objectPath(options.container, manifestName(options.object)),
        { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: `${JSON.stringify(result.manifest, null, 2)}\n` }, [201]);
      log.info({ object: `${options.container}/${options.object}`, segments: entries.length, nested: slo === entries ? 0 : slo.length }, 'static large object completed');
      objectWritten = false;
      return result.manifest;
    },

    async abandon(): Promise<void> {
      // Completed but its manifest.json not stored: the object goes too, so nothing looks complete.
      if (objectWritten) {
        await withToken(`DELETE ${options.container}/${options.object}`, objectPath(options.container, options.object), { method: 'DELETE' }, [204, 404]);
        objectWritten = false;
      }
      const names = await listSegments();
      for (const name of names) {
        await withToken(`DELETE the segment ${segmentContainer}/${name}`, `${accountPath}/${segmentContainer}/${name}`, { method: 'DELETE' }, [204, 404]);
      }
      log.info({ deleted: names.length }, 'abandoned the upload: segments deleted');
    },

    readUrl: (seconds) => tempUrl('GET', objectPath(options.container, options.object), seconds ?? ttl),

    async readManifest(): Promise<SnapshotManifest> {
      const path = objectPath(options.container, manifestName(options.object));
      const got = await withToken(`GET ${manifestName(options.object)}`, path, { method: 'GET' }, [200]);
      return parseSnapshotManifest(got.text, `${options.container}/${manifestName(options.object)}`);
    },
  };
}
