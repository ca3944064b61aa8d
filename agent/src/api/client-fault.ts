import { IngotError, toIngotError } from '@ingot/protocol';

/** Everything the URL decoders say when an escape is malformed (router's decodeParam keeps the URIError). */
const decodeFailure = (error: unknown): boolean => error instanceof URIError || (error as { cause?: unknown } | null)?.cause instanceof URIError;

/**
 * Maps whatever reached the API's error handler to the fault it answers.
 * Client input never produces a 5xx: a malformed percent-escape anywhere in
 * the URL (Express decodes route parameters with decodeURIComponent, which
 * throws) is INGOT_URL_INVALID (400), and any error the HTTP layers mark as
 * the client's (a 4xx `status`, as http-errors sets it) keeps its 4xx. Only
 * what is left, an error the agent's own code threw, is a 5xx.
 */
export function toClientFault(error: unknown): IngotError {
  if (error instanceof IngotError) return error;
  if (decodeFailure(error)) {
    return new IngotError('INGOT_URL_INVALID', {
      details: 'a percent-escape in the URL is not "%" with two hex digits of valid UTF-8; encode the command id and query values with encodeURIComponent',
      cause: error,
    });
  }
  const status = clientStatus(error);
  if (status === 413) return new IngotError('INGOT_BODY_TOO_LARGE', { details: 'the request body is larger than the agent accepts', cause: error });
  if (status !== undefined) return new IngotError('INGOT_BAD_REQUEST', { status, details: 'the HTTP layer refused the request; check its URL, headers and body', cause: error });
  return toIngotError(error);
}

function clientStatus(error: unknown): number | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const record = error as { status?: unknown; statusCode?: unknown };
  const status = typeof record.status === 'number' ? record.status : record.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}
