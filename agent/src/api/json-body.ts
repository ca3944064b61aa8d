import type { Request, RequestHandler } from 'express';
import getRawBody from 'raw-body';
import { IngotError } from '@ingot/protocol';

/**
 * Request bodies: read with raw-body rather than express.json, because
 * body-parser answers a body over the limit only after it has drained the
 * rest of it, so a client that announces 100 MiB and sends nothing held the
 * request for as long as it liked. Here a body over the limit is refused
 * the moment it is known: from Content-Length before a byte is read
 * (`refuseAnnouncedOversize`), or as soon as a chunked body passes the limit.
 * The connection is then closed (the error handler says `Connection: close`
 * for a request whose body was not read), and whatever a client trickles is
 * bounded by the server's request timeout (serving/server-limits.ts).
 *
 * Bodies are JSON in UTF-8, whatever the Content-Type says (Ironic sends
 * application/json; IPA parses any); compressed bodies are refused (415):
 * Ironic never sends them, and a decompressor is attack surface.
 */
export function refuseAnnouncedOversize(limitBytes: number): RequestHandler {
  return (req, _res, next) => {
    const announced = announcedLength(req);
    if (announced !== undefined && announced > limitBytes) throw tooLarge(limitBytes, `${announced} bytes announced`);
    next();
  };
}

/** Parses the body into `req.body` (undefined when empty); any JSON value is accepted, the route judges its shape. */
export function jsonBody(limitBytes: number): RequestHandler {
  return async (req, _res, next) => {
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (encoding !== 'identity' && encoding !== '') {
      throw new IngotError('INGOT_BODY_ENCODING_UNSUPPORTED', { details: 'the agent accepts uncompressed JSON bodies only; send the body without Content-Encoding' });
    }
    const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
    if (charset !== undefined && !['utf-8', 'utf8', 'us-ascii'].includes(charset)) {
      throw new IngotError('INGOT_BODY_ENCODING_UNSUPPORTED', { details: 'the agent accepts JSON in UTF-8 only; send charset=utf-8 or no charset' });
    }
    let raw: Buffer;
    try {
      raw = await getRawBody(req, { length: announcedLength(req) ?? null, limit: limitBytes });
    } catch (error) {
      const type = (error as { type?: unknown }).type;
      if (type === 'entity.too.large') throw tooLarge(limitBytes, 'the body grew past it', error);
      throw new IngotError('INGOT_BAD_REQUEST', { details: `the request body could not be read (${(error as Error).message}); send it whole, as Content-Length says`, cause: error });
    }
    req.body = raw.length === 0 ? undefined : parseJson(raw);
    next();
  };
}

function parseJson(raw: Buffer): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch (error) {
    throw new IngotError('INGOT_BAD_REQUEST', { details: 'the request body is not valid UTF-8; send JSON in UTF-8', cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new IngotError('INGOT_BAD_REQUEST', { details: `the request body is not valid JSON (${(error as Error).message})`, cause: error });
  }
}

/** Content-Length as a number; Node's parser has already refused a malformed or conflicting one. */
function announcedLength(req: Request): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined) return undefined;
  const length = Number(header);
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}

function tooLarge(limitBytes: number, what: string, cause?: unknown): IngotError {
  return new IngotError('INGOT_BODY_TOO_LARGE', { details: `the agent accepts request bodies up to ${limitBytes} bytes (${what}); send a smaller body`, cause });
}
