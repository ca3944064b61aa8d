/**
 * S3's query-string presigning, Signature Version 4, as s3api (and AWS)
 * checks it: a canonical request with `UNSIGNED-PAYLOAD` and only the Host
 * header signed, signed with the key derived from the secret, date, region
 * and service.
 *
 * Hand-written with node:crypto rather than taken from a library:
 * `@aws-sdk/s3-request-presigner` brings the AWS SDK's whole middleware
 * stack (dozens of packages) for about sixty lines of HMACs, and `aws4`
 * (small, maintained) is CommonJS without its own types, signs the
 * `X-Amz-Content-Sha256` header rules its own way for presigning and would
 * still need a wrapper for path-style bucket URLs and the multipart query
 * parameters. This is checked against AWS's published presigned-URL example
 * (s3-presign.test.ts) and against the real s3api in the integration tests.
 */
import { createHash, createHmac } from 'node:crypto';

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
  const endpoint = request.endpoint.replace(/\/+$/, '');
  const host = new URL(endpoint).host;
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
  return `${endpoint}${canonicalPath}?${canonicalQuery}&X-Amz-Signature=${signature}`;
}
