import { describe, expect, it } from 'vitest';
import { backoffMs, isCertificateError, isRetryableFailure, waitMs } from './retry-policy.ts';

describe('isRetryableFailure', () => {
  it('retries a dropped connection, any 5xx, 408 and 429', () => {
    for (const status of [null, 500, 502, 503, 504, 599, 408, 429]) expect(isRetryableFailure(status), String(status)).toBe(true);
  });

  it('does not retry an expired or bad signature (401, 403) nor any other 4xx: they would fail the same way', () => {
    for (const status of [400, 401, 403, 404, 409, 411, 413, 422]) expect(isRetryableFailure(status), String(status)).toBe(false);
  });
});

describe('backoffMs', () => {
  it('waits 0.5 s after the first failure, doubling up to 8 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 60].map(backoffMs)).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000, 8000]);
  });

  it('refuses an attempt count that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => backoffMs(bad)).toThrow(RangeError);
  });
});

describe('waitMs', () => {
  it('rejects with the abort reason at once, not after the wait', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const waiting = waitMs(60_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    expect(Date.now() - started).toBeLessThan(1_000);
    await expect(waitMs(10, controller.signal)).rejects.toThrow('stop');
  });
});

describe('isCertificateError', () => {
  it('knows Node\'s certificate refusals from network faults', () => {
    const coded = (code: string) => Object.assign(new Error(code), { code });
    for (const code of ['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID']) expect(isCertificateError(coded(code)), code).toBe(true);
    for (const code of ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']) expect(isCertificateError(coded(code)), code).toBe(false);
    expect(isCertificateError(new Error('no code'))).toBe(false);
  });
});
