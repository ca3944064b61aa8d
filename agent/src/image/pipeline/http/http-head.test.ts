import { describe, expect, it } from 'vitest';
import { findHeadEnd, parseContentRange, parseResponseHead, planResponse, type ResponseHead } from './http-head.ts';

const head = (status: number, headers: Record<string, string>): ResponseHead => ({ status, reason: '', headers });

describe('response heads and range bookkeeping', () => {
  it('parses a status line and lowercased headers, and finds where the head ends', () => {
    const text = 'HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\nContent-Range: bytes 5-14/15\r\n\r\n';
    const parsed = parseResponseHead(text.slice(0, -4));
    expect(parsed).toEqual({ status: 206, reason: 'Partial Content', headers: { 'content-length': '10', 'content-range': 'bytes 5-14/15' } });
    const bytes = Buffer.from(`${text}BODY`);
    expect(findHeadEnd(bytes, bytes.length)).toBe(text.length);
    expect(findHeadEnd(bytes, text.length - 1)).toBe(-1);
  });

  it('parses Content-Range and refuses inconsistent ones', () => {
    expect(parseContentRange('bytes 100-199/1000')).toEqual({ start: 100, end: 199, total: 1000 });
    expect(parseContentRange('bytes 100-199/*')).toEqual({ start: 100, end: 199, total: undefined });
    expect(parseContentRange('bytes 200-100/1000')).toBeUndefined();
    expect(parseContentRange('bytes 0-1000/1000')).toBeUndefined();
  });

  it('reads a fresh 200 from byte 0 and a 206 from where the held bytes end', () => {
    expect(planResponse(head(200, { 'content-length': '1000' }), 0, undefined)).toEqual({ kind: 'body', start: 0, bodyLength: 1000, total: 1000 });
    expect(planResponse(head(206, { 'content-length': '600', 'content-range': 'bytes 400-999/1000' }), 400, 1000)).toEqual({ kind: 'body', start: 400, bodyLength: 600, total: 1000 });
  });

  it('starts over when a Range request gets 200, or when the file changed size between attempts', () => {
    expect(planResponse(head(200, { 'content-length': '1000' }), 400, 1000)).toEqual({ kind: 'restart', reuseBody: true, bodyLength: 1000, total: 1000 });
    expect(planResponse(head(206, { 'content-length': '600', 'content-range': 'bytes 400-999/2000' }), 400, 1000)).toMatchObject({ kind: 'restart', reuseBody: false });
  });

  it('retries a 206 that starts elsewhere, 5xx, 408 and 429, and gives up on other 4xx', () => {
    expect(planResponse(head(206, { 'content-length': '500', 'content-range': 'bytes 500-999/1000' }), 400, 1000).kind).toBe('retry');
    for (const status of [500, 503, 408, 429]) expect(planResponse(head(status, {}), 0, undefined).kind).toBe('retry');
    for (const status of [401, 403, 404]) expect(planResponse(head(status, {}), 0, undefined).kind).toBe('fatal');
  });

  it('counts a 416 at the known end as complete, and follows redirects', () => {
    expect(planResponse(head(416, {}), 1000, 1000)).toEqual({ kind: 'complete' });
    expect(planResponse(head(302, { location: '/elsewhere' }), 0, undefined)).toEqual({ kind: 'redirect', location: '/elsewhere' });
  });

  it('reads a chunked body with or without a known size, and ignores a Content-Length beside chunked encoding', () => {
    expect(planResponse(head(200, { 'transfer-encoding': 'chunked' }), 0, undefined)).toEqual({ kind: 'body', start: 0, bodyLength: 'chunked', total: undefined });
    expect(planResponse(head(200, { 'transfer-encoding': 'chunked', 'content-length': '5' }), 0, undefined)).toEqual({ kind: 'body', start: 0, bodyLength: 'chunked', total: undefined });
    expect(planResponse(head(206, { 'transfer-encoding': 'chunked', 'content-range': 'bytes 400-999/1000' }), 400, undefined)).toEqual({ kind: 'body', start: 400, bodyLength: 'chunked', total: 1000 });
    expect(planResponse(head(200, { 'transfer-encoding': 'chunked' }), 400, undefined)).toEqual({ kind: 'restart', reuseBody: true, bodyLength: 'chunked', total: undefined });
  });

  it('counts a 416 stating exactly the held size as complete when the size was unknown (a chunked body cut after its last byte)', () => {
    expect(planResponse(head(416, { 'content-range': 'bytes */1000' }), 1000, undefined)).toEqual({ kind: 'complete' });
    expect(planResponse(head(416, { 'content-range': 'bytes */2000' }), 1000, undefined).kind).toBe('fatal');
  });

  it('refuses bodies it could not size-check or resume: no Content-Length and no chunking, or another transfer coding', () => {
    expect(planResponse(head(200, {}), 0, undefined).kind).toBe('fatal');
    expect(planResponse(head(200, { 'transfer-encoding': 'gzip' }), 0, undefined).kind).toBe('fatal');
  });

  it('marks a 4xx refusal with its status so it is not retried, and a 3xx without Location without one', () => {
    expect(planResponse(head(404, {}), 0, undefined)).toEqual({ kind: 'fatal', reason: 'HTTP 404', status: 404 });
    expect(planResponse(head(304, {}), 0, undefined)).toEqual({ kind: 'fatal', reason: 'HTTP 304' });
  });
});
