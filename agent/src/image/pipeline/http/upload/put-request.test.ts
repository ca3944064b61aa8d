import { describe, expect, it } from 'vitest';
import { describeStoreReason, parseUploadUrl } from './put-request.ts';

const s3Url = new URL('http://127.0.0.1:8080/b/k?partNumber=1&uploadId=abc&X-Amz-Signature=0123456789abcdef0123');

describe('describeStoreReason', () => {
  it('keeps only S3\'s Code and Message: the rest of its XML echoes the signature', () => {
    const body = '<?xml version="1.0"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message><SignatureProvided>0123456789abcdef0123</SignatureProvided><StringToSign>AWS4-HMAC-SHA256...</StringToSign></Error>';
    expect(describeStoreReason(body, s3Url)).toBe('SignatureDoesNotMatch: The request signature we calculated does not match');
  });

  it('strips tags from an HTML answer and blanks any query value of the URL it still holds', () => {
    const body = '<html><h1>Unauthorized</h1><p>no access for 0123456789abcdef0123</p></html>';
    expect(describeStoreReason(body, s3Url)).toBe('Unauthorized no access for ***');
  });

  it('blanks a query value as sent, percent-encoded, as well as decoded', () => {
    const url = new URL('http://h/o?temp_url_sig=a%2Fb%2Fc%2Fd');
    expect(describeStoreReason('echo a%2Fb%2Fc%2Fd and a/b/c/d', url)).toBe('echo *** and ***');
  });

  it('cuts a long reason to 200 characters', () => {
    expect(describeStoreReason('x'.repeat(1_000), s3Url)).toHaveLength(203);
  });
});

describe('parseUploadUrl', () => {
  it('refuses what is not an http or https URL with a 400 naming it, its query redacted', () => {
    expect(() => parseUploadUrl('ftp://h/o?temp_url_sig=secret', 'segment URL 3')).toThrow(/segment URL 3 \(ftp:\/\/h\/o\?temp_url_sig=\*\*\*\) is not http or https/);
    expect(() => parseUploadUrl('not a url?sig=secret', 'the manifest URL')).toThrow(/the manifest URL .* is not a URL/);
    let thrown: unknown;
    try {
      parseUploadUrl('nope', 'x');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'INGOT_SNAPSHOT_UPLOAD', status: 400 });
  });
});
