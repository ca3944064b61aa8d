/**
 * A snapshot in an S3 bucket (Swift's s3api here, any S3 in principle) as a
 * multipart upload, every call through SigV4 presigned URLs: the conductor
 * starts the upload (CreateMultipartUpload), signs one UploadPart URL per
 * part for the agent, then completes it with the ETags the agent reports and
 * PUTs `<key>.manifest.json`; a failed capture aborts the upload, which
 * removes its parts.
 */
import { pino, type Logger } from 'pino';
import { IngotError, redactUrl, type SnapshotCaptureResult, type SnapshotManifest, type SnapshotTarget } from '@ingot/protocol';
import { presignS3Url, type S3Credentials } from './s3-presign.ts';
import { planSegments, S3_MAX_PARTS, S3_MIN_PART_BYTES } from './segment-plan.ts';
import { checkedSegments, DEFAULT_URL_TTL_SECONDS, manifestName, parseSnapshotManifest, type SnapshotStore } from './snapshot-store.ts';
import { storeError, storeRequest } from './store-http.ts';

export interface S3StoreOptions extends S3Credentials {
  /** `http://host:port` (path-style addressing: `<endpoint>/<bucket>/<key>`). */
  endpoint: string;
  bucket: string;
  key: string;
  /** Bytes per part; default 64 MiB, at least 5 MiB, raised so that at most 10000 parts are needed. */
  segmentSize?: number;
  /** Seconds the agent's URLs stay valid; default 3600. */
  urlTtlSeconds?: number;
  log?: Logger;
}

const xmlEscape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function createS3Store(options: S3StoreOptions): SnapshotStore {
  const endpoint = options.endpoint.replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/i.test(endpoint)) throw new IngotError('INGOT_CONFIG_INVALID', { details: `the S3 endpoint must be http(s), got "${redactUrl(endpoint)}"` });
  if (!options.bucket || options.bucket.includes('/')) throw new IngotError('INGOT_CONFIG_INVALID', { details: `the S3 bucket must be a name without "/", got "${options.bucket}"` });
  if (!options.key) throw new IngotError('INGOT_CONFIG_INVALID', { details: 'the S3 key must not be empty' });
  if (!options.accessKey || !options.secretKey) throw new IngotError('INGOT_CONFIG_INVALID', { details: 'the S3 access key and secret key are both needed' });
  const log = (options.log ?? pino({ level: 'silent' })).child({ store: 's3' });
  const credentials: S3Credentials = { accessKey: options.accessKey, secretKey: options.secretKey, region: options.region };
  const ttl = options.urlTtlSeconds ?? DEFAULT_URL_TTL_SECONDS;
  // The conductor's own calls are made at once: a short validity is enough.
  const OWN_CALL_SECONDS = 300;
  const sign = (method: string, key: string, expiresSeconds: number, query?: Record<string, string>) =>
    presignS3Url(credentials, { method, endpoint, path: `/${options.bucket}/${key}`, query, expiresSeconds });
  let uploadId: string | undefined;
  let signed = 0;
  // Set once CompleteMultipartUpload made the object: only then may abandon() delete it (an older snapshot stays otherwise).
  let objectWritten = false;

  return {
    type: 's3',
    location: `${endpoint}/${options.bucket}/${options.key}`,

    async prepare(rawBytes, prepareOptions = {}): Promise<SnapshotTarget> {
      const plan = planSegments(rawBytes, { requested: options.segmentSize, maxSegments: S3_MAX_PARTS, minSegmentSize: S3_MIN_PART_BYTES, frameSize: prepareOptions.frameSize });
      const created = await storeRequest(`CreateMultipartUpload of ${options.bucket}/${options.key}`, sign('POST', options.key, OWN_CALL_SECONDS, { uploads: '' }), { method: 'POST' }, [200]);
      const id = /<UploadId>([^<]+)<\/UploadId>/.exec(created.text)?.[1];
      if (!id) throw storeError(`CreateMultipartUpload of ${options.bucket}/${options.key}`, `${endpoint}/${options.bucket}/${options.key}`, 'the answer holds no UploadId');
      uploadId = id;
      const part_urls: string[] = [];
      for (let part = 1; part <= plan.count; part++) part_urls.push(sign('PUT', options.key, ttl, { partNumber: String(part), uploadId: id }));
      signed = plan.count;
      log.info({ parts: plan.count, segmentSize: plan.segmentSize, first: redactUrl(part_urls[0]!), ttl }, 'multipart upload started; part URLs signed');
      return { type: 's3', part_urls, segment_size: plan.segmentSize };
    },

    async complete(result: SnapshotCaptureResult): Promise<SnapshotManifest> {
      if (!uploadId) throw new IngotError('INGOT_SNAPSHOT_UPLOAD', { details: 'no multipart upload was started on this store (prepare() first); nothing was completed' });
      const segments = checkedSegments(result, 's3', signed);
      const parts = segments.map((segment) => `<Part><PartNumber>${segment.index + 1}</PartNumber><ETag>"${xmlEscape(segment.etag ?? segment.md5)}"</ETag></Part>`);
      const body = `<CompleteMultipartUpload>${parts.join('')}</CompleteMultipartUpload>`;
      const what = `CompleteMultipartUpload of ${options.bucket}/${options.key} (${parts.length} parts)`;
      const completed = await storeRequest(what, sign('POST', options.key, OWN_CALL_SECONDS, { uploadId }), { method: 'POST', body }, [200]);
      // S3 may answer 200 with an <Error> body when completing fails late.
      if (!completed.text.includes('<CompleteMultipartUploadResult')) throw storeError(what, `${endpoint}/${options.bucket}/${options.key}`, `unexpected answer: ${completed.text.slice(0, 300)}`);
      uploadId = undefined;
      objectWritten = true;
      await storeRequest(`PUT ${manifestName(options.key)}`, sign('PUT', manifestName(options.key), OWN_CALL_SECONDS),
        { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: `${JSON.stringify(result.manifest, null, 2)}\n` }, [200]);
      log.info({ object: `${options.bucket}/${options.key}`, parts: parts.length }, 'multipart upload completed');
      objectWritten = false;
      return result.manifest;
    },

    async abandon(): Promise<void> {
      if (objectWritten) {
        // Completed but its manifest.json not stored: the object goes too, so nothing looks complete.
        await storeRequest(`DELETE ${options.bucket}/${options.key}`, sign('DELETE', options.key, OWN_CALL_SECONDS), { method: 'DELETE' }, [204, 404]);
        objectWritten = false;
      }
      if (!uploadId) return;
      // 404 NoSuchUpload: already aborted or completed.
      await storeRequest(`AbortMultipartUpload of ${options.bucket}/${options.key}`, sign('DELETE', options.key, OWN_CALL_SECONDS, { uploadId }), { method: 'DELETE' }, [200, 204, 404]);
      log.info({ object: `${options.bucket}/${options.key}` }, 'abandoned the upload: multipart upload aborted');
      uploadId = undefined;
    },

    readUrl: async (seconds) => sign('GET', options.key, seconds ?? ttl),

    async readManifest(): Promise<SnapshotManifest> {
      const got = await storeRequest(`GET ${manifestName(options.key)}`, sign('GET', manifestName(options.key), OWN_CALL_SECONDS), { method: 'GET' }, [200]);
      return parseSnapshotManifest(got.text, `${options.bucket}/${manifestName(options.key)}`);
    },
  };
}
