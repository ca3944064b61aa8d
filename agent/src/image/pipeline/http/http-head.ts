/**
 * Pure parsing of an HTTP/1.1 response head and of Range bookkeeping. The
 * body itself never passes through here: it is read by onread straight into
 * the pipeline's buffers (perf-limits.md 6.2).
 */
export interface ResponseHead {
  status: number;
  reason: string;
  /** Lowercased header names; repeated headers joined with ", ". */
  headers: Record<string, string>;
}

/** Index just past the blank line that ends the head, or -1 when it has not fully arrived. */
export function findHeadEnd(bytes: Uint8Array, length: number): number {
  for (let i = 3; i < length; i++) {
    if (bytes[i] === 0x0a && bytes[i - 1] === 0x0d && bytes[i - 2] === 0x0a && bytes[i - 3] === 0x0d) return i + 1;
  }
  return -1;
}

export function parseResponseHead(text: string): ResponseHead {
  const lines = text.split('\r\n');
  const statusLine = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (!statusLine) throw new Error(`not an HTTP/1.x response: ${JSON.stringify((lines[0] ?? '').slice(0, 60))}`);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    if (!line) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: Number(statusLine[1]), reason: statusLine[2] ?? '', headers };
}

export interface ContentRange {
  start: number;
  end: number;
  /** Undefined when the server sent `*` for the complete length. */
  total: number | undefined;
}

/** `bytes 100-199/1000` (RFC 9110 14.4). */
export function parseContentRange(value: string | undefined): ContentRange | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec((value ?? '').trim());
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  const total = match[3] === '*' ? undefined : Number(match[3]);
  if (end < start || (total !== undefined && end >= total)) return undefined;
  return { start, end, total };
}

export function parseContentLength(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

/** What to do with a response, given how many served bytes we already hold. */
export type ResponsePlan =
  /** `bodyLength` 'chunked': the body ends at its terminating chunk; `total` undefined: the file's size is not known. */
  | { kind: 'body'; start: number; bodyLength: number | 'chunked'; total: number | undefined }
  | { kind: 'restart'; reuseBody: boolean; bodyLength: number | 'chunked'; total: number | undefined }
  | { kind: 'complete' }
  | { kind: 'redirect'; location: string }
  /** `status` set when the server refused the request itself (4xx): IPA does not retry those (9.4). */
  | { kind: 'fatal'; reason: string; status?: number }
  | { kind: 'retry'; reason: string };

/**
 * Decides between resuming, restarting from zero and failing. A 200 to a
 * Range request means the server ignored the Range: the bytes start at 0, so
 * digest and decompressor must start over too. 4xx is fatal as in IPA (9.4),
 * except 408 and 429 which say "try later". A chunked body (RFC 9112 7.1)
 * needs no Content-Length: its terminating chunk tells a complete body from a
 * cut one, so the file's size may stay unknown until the end.
 */
export function planResponse(head: ResponseHead, held: number, knownTotal: number | undefined): ResponsePlan {
  const { status, headers } = head;
  if ([301, 302, 303, 307, 308].includes(status) && headers.location) return { kind: 'redirect', location: headers.location };
  if (status === 416) {
    // Everything was already held: the size we knew, or the one a 416 states (`bytes */N`, RFC 9110 15.5.17).
    const stated = /^bytes \*\/(\d+)$/.exec((headers['content-range'] ?? '').trim());
    const total = knownTotal ?? (stated ? Number(stated[1]) : undefined);
    if (held > 0 && total === held) return { kind: 'complete' };
  }
  if (status === 408 || status === 429 || status >= 500) return { kind: 'retry', reason: `HTTP ${status} ${head.reason}`.trim() };
  if (status >= 400) return { kind: 'fatal', reason: `HTTP ${status} ${head.reason}`.trim(), status };
  if (status >= 300) return { kind: 'fatal', reason: `HTTP ${status} ${head.reason}`.trim() };
  const chunked = /(^|,)\s*chunked\s*$/i.test(headers['transfer-encoding'] ?? '');
  if (headers['transfer-encoding'] !== undefined && !chunked) {
    return { kind: 'fatal', reason: `unsupported Transfer-Encoding ${JSON.stringify(headers['transfer-encoding'])}` };
  }
  // RFC 9112 6.3: with Transfer-Encoding, any Content-Length is ignored.
  const length = chunked ? undefined : parseContentLength(headers['content-length']);
  if (!chunked && length === undefined) return { kind: 'fatal', reason: 'the response has neither Content-Length nor chunked encoding, so a truncated image could not be told apart from a complete one' };
  const bodyLength = chunked ? 'chunked' as const : length!;
  if (status === 206) {
    const range = parseContentRange(headers['content-range']);
    if (!range || (length !== undefined && range.end - range.start + 1 !== length)) return { kind: 'retry', reason: `unusable Content-Range ${JSON.stringify(headers['content-range'] ?? '')}` };
    const total = range.total ?? knownTotal;
    if (total === undefined) return { kind: 'fatal', reason: 'Content-Range without a complete length' };
    if (knownTotal !== undefined && total !== knownTotal) return { kind: 'restart', reuseBody: false, bodyLength: 0, total }; // the file changed under us
    if (range.start !== held) return { kind: 'retry', reason: `asked for bytes from ${held}, the server sent from ${range.start}` };
    return { kind: 'body', start: held, bodyLength, total };
  }
  if (status !== 200) return { kind: 'fatal', reason: `unexpected HTTP ${status}` };
  if (held > 0) return { kind: 'restart', reuseBody: true, bodyLength, total: length };
  return { kind: 'body', start: 0, bodyLength, total: length };
}
