import { describe, expect, it } from 'vitest';
import { presignS3Url } from './s3-presign.ts';
import { swiftTempUrl, tempUrlQuery } from './swift-temp-url.ts';

describe('SigV4 query presigning', () => {
  it('gives the signature of AWS\'s published presigned-URL example', () => {
    // "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)", the GET example.
    const url = presignS3Url(
      { accessKey: 'AKIAIOSFODNN7EXAMPLE', secretKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', region: 'us-east-1' },
      { method: 'GET', endpoint: 'https://examplebucket.s3.amazonaws.com', path: '/test.txt', expiresSeconds: 86400, now: new Date('2013-05-24T00:00:00Z') },
    );
    expect(new URL(url).searchParams.get('X-Amz-Signature')).toBe('aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404');
    expect(new URL(url).searchParams.get('X-Amz-Credential')).toBe('AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request');
    expect(url.startsWith('https://examplebucket.s3.amazonaws.com/test.txt?')).toBe(true);
  });

  it('signs another signature when the part number or upload id differs, and encodes the key once', () => {
    const credentials = { accessKey: 'a', secretKey: 's', region: 'us-east-1' };
    const base = { method: 'PUT', endpoint: 'http://127.0.0.1:8080', path: '/b/node 1/disk.img', expiresSeconds: 60, now: new Date('2026-01-01T00:00:00Z') };
    const one = presignS3Url(credentials, { ...base, query: { partNumber: '1', uploadId: 'u' } });
    const two = presignS3Url(credentials, { ...base, query: { partNumber: '2', uploadId: 'u' } });
    expect(new URL(one).searchParams.get('X-Amz-Signature')).not.toBe(new URL(two).searchParams.get('X-Amz-Signature'));
    expect(one).toContain('/b/node%201/disk.img?');
  });
});

describe('Swift temp URLs', () => {
  // Swift's tempurl docs give the formula, not a fixed signature: this one was
  // computed apart with Python's hmac (hmac.new(b'mykey', b'GET\n1440619048\n/v1/AUTH_account/container/object', sha256)).
  it('signs METHOD\\nEXPIRES\\nPATH with HMAC-SHA256 as Swift\'s tempurl middleware checks it', () => {
    expect(tempUrlQuery('mykey', 'GET', '/v1/AUTH_account/container/object', 1440619048))
      .toBe('temp_url_sig=9ef8c448d4184fd16dd4013a1e3349149f895555655621dbf6d6a166f585af72&temp_url_expires=1440619048');
  });

  it('builds a whole PUT URL for a segment that expires ttl seconds from now', () => {
    const url = swiftTempUrl({ key: 'mykey', method: 'PUT', proxyUrl: 'http://127.0.0.1:8080/', path: '/v1/AUTH_account/container/object.segments/00000003', ttlSeconds: 48, now: 1440619000_000 });
    expect(url).toBe('http://127.0.0.1:8080/v1/AUTH_account/container/object.segments/00000003?temp_url_sig=86d424ed492afd537b169e668dc24b46f334426d024c604d300c80c1423aca2f&temp_url_expires=1440619048');
  });
});
