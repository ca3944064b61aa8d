import type { BodyConsumer } from './body-consumer.ts';
import { openResponse } from './http-connection.ts';
import { parseContentRange } from './http-head.ts';

export interface ReadRangeRequest {
  url: URL;
  caPem?: string;
  proxy?: string;
  stallTimeoutMs: number;
  signal: AbortSignal;
}

/**
 * What one Range request for the bytes from `start` to the end told:
 * - `bytes` and `total`: the server sent exactly them (206) and the object's size;
 * - `total` alone: the object's size, but not the asked bytes (a 416 past its
 *   end, RFC 9110 15.5.17, or a range that does not end where asked);
 * - undefined: the server does not serve ranges (200, or no usable Content-Range).
 */
export type RangeRead = { bytes: Uint8Array; total: number } | { bytes?: undefined; total: number } | undefined;

/**
 * Collects a short body into one buffer. Reads land in it directly, except
 * the body's first bytes, which arrived with the response head and are
 * handed over from the connection's own buffer: those are copied.
 */
function collect(length: number): BodyConsumer & { bytes: Uint8Array } {
  const bytes = new Uint8Array(length);
  let fill = 0;
  return {
    bytes,
    readBuffer: () => (fill < length ? bytes.subarray(fill) : new Uint8Array(4096)),
    onRead(view) {
      if (view.buffer !== bytes.buffer) bytes.set(view.subarray(0, length - fill), fill);
      fill = Math.min(length, fill + view.byteLength);
      return true;
    },
    attach() {},
  };
}

/**
 * The last bytes of an object from `start` (`length` of them, its end), by
 * one Range request on a connection of its own: for reading a trailer (a
 * zstd seek table) before the download proper begins. Errors are the
 * download's (INGOT_IMAGE_DOWNLOAD, _STALLED), unretried: a caller that can do
 * without the trailer falls back.
 */
export async function readRange(request: ReadRangeRequest, start: number, length: number): Promise<RangeRead> {
  const response = await openResponse({ url: request.url, rangeStart: start, caPem: request.caPem, proxy: request.proxy, stallTimeoutMs: request.stallTimeoutMs, signal: request.signal });
  try {
    const { status, headers } = response.head;
    if (status === 416) {
      const stated = /^bytes \*\/(\d+)$/.exec((headers['content-range'] ?? '').trim());
      return stated ? { total: Number(stated[1]) } : undefined;
    }
    if (status !== 206) return undefined;
    const range = parseContentRange(headers['content-range']);
    if (!range || range.total === undefined || range.start !== start) return undefined;
    if (range.end + 1 !== range.total || range.end - range.start + 1 !== length) return { total: range.total };
    const body = collect(length);
    await response.readBody(body, length);
    return { bytes: body.bytes, total: range.total };
  } finally {
    response.close();
  }
}
