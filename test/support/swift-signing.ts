/**
 * The two kinds of signed URL an object store hands out for uploads and
 * downloads without a token, computed the way the server checks them:
 *
 * - Swift's temp URL (the `tempurl` middleware): HMAC over
 *   "METHOD\nEXPIRES\nPATH" with the account's Temp-URL-Key; the hex digest's
 *   length tells Swift which hash it is (64 hex digits: SHA-256).
 * - S3's query-string presigning, Signature Version 4 (what s3api checks):
 *   a canonical request with `UNSIGNED-PAYLOAD`, signed with the key derived
 *   from the secret, date, region and service.
 *
 * Written by hand with node:crypto rather than taken from
 * `@aws-sdk/s3-request-presigner`: that package brings the AWS SDK's whole
 * middleware stack (dozens of packages) for about sixty lines of HMACs, and
 * these are test helpers. The SigV4 code is checked against AWS's own
 * published example in test/integration/swift-server.test.ts.
 */
import { createHash, createHmac } from 'node:crypto';

/**
 * The query string that makes `path` (`/v1/AUTH_x/container/object`) usable
 * with `method` until `expires` (Unix seconds), signed with HMAC-SHA256.
 */
export function tempUrlQuery(key: string, method: string, path: string, expires: number): string {
  const signature = createHmac('sha256', key).update(`${method}\n${expires}\n${path}`).digest('hex');
  return `temp_url_sig=${signature}&temp_url_expires=${expires}`;
}

export interface S3Credentials {
  accessKey: string;
  secretKey: string;
  region: string;
}

export interface PresignRequest {
  method: string;
  /** `http://host:port`, no trailing slash; its host (with port) is the signed Host header. */
  endpoint: string;
  /** Path-style: `/bucket/key`, unencoded. */
  path: string;
  /** Extra query parameters the operation needs (`uploads`, `partNumber`, `uploadId`). */
  query?: Record<string, string>;
  expiresSeconds: number;
  /** When the URL is signed; now unless given (AWS's test vectors fix it). */
  now?: Date;
}

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ escaped. */
function encodeRfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
const sha256Hex = (data: string) => createHash('sha256').update(data).digest('hex');

/** A presigned URL (SigV4, query parameters, `UNSIGNED-PAYLOAD`) for `request`. */
export function presignS3Url(credentials: S3Credentials, request: PresignRequest): string {
  const iso = (request.now ?? new Date()).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const date = iso.slice(0, 8);
  const scope = `${date}/${credentials.region}/s3/aws4_request`;
  const host = new URL(request.endpoint).host;
  const query: Record<string, string> = {
    ...request.query,
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': `${credentials.accessKey}/${scope}`,
    'X-Amz-Date': iso,
    'X-Amz-Expires': String(request.expiresSeconds),
    'X-Amz-SignedHeaders': 'host',
  };
  // Keys and values encoded first, then sorted by encoded key (byte order).
  const canonicalQuery = Object.entries(query)
    .map(([name, value]) => [encodeRfc3986(name), encodeRfc3986(value)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  // S3 encodes each path segment once (other services encode twice); '/' stays.
  const canonicalPath = request.path.split('/').map(encodeRfc3986).join('/');
  const canonicalRequest = [request.method, canonicalPath, canonicalQuery, `host:${host}\n`, 'host', 'UNSIGNED-PAYLOAD'].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', iso, scope, sha256Hex(canonicalRequest)].join('\n');
  let signingKey = hmac(`AWS4${credentials.secretKey}`, date);
  for (const part of [credentials.region, 's3', 'aws4_request']) signingKey = hmac(signingKey, part);
  const signature = hmac(signingKey, stringToSign).toString('hex');
  return `${request.endpoint}${canonicalPath}?${canonicalQuery}&X-Amz-Signature=${signature}`;
}
